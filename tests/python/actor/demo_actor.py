"""The actor behind demo_actor_service.py: python-sdk's examples/demo_actor
`DemoActor` (state through the state manager, a timer registered and
unregistered through the runtime, the reentrancy context), written for
daprd's tests. The timer callback records every fire in actor state so a
client sees it through its own sidecar.
"""

import asyncio
import datetime

from dapr.actor import Actor, ActorId, ActorProxy
from dapr.actor.runtime.reentrancy_context import reentrancy_ctx
from demo_actor_interface import DemoActorInterface

TIMER = 'demo_timer'
TIMER_STATE = 'timer_state'


class DemoActor(Actor, DemoActorInterface):
    async def _on_activate(self) -> None:
        print(f'activate {type(self).__name__} {self.id}', flush=True)

    async def _on_deactivate(self) -> None:
        print(f'deactivate {type(self).__name__} {self.id}', flush=True)

    async def get_my_data(self) -> object:
        found, value = await self._state_manager.try_get_state('mydata')
        print(f'get_my_data: found={found}', flush=True)
        return value

    async def set_my_data(self, data) -> None:
        print(f'set_my_data: {data}', flush=True)
        data['ts'] = datetime.datetime.now(datetime.timezone.utc)
        await self._state_manager.set_state('mydata', data)
        await self._state_manager.save_state()

    async def clear_my_data(self) -> None:
        await self._state_manager.remove_state('mydata')
        await self._state_manager.save_state()

    async def set_timer(self, enabled) -> None:
        print(f'set_timer: {enabled}', flush=True)
        if enabled:
            await self.register_timer(
                TIMER,
                self.timer_callback,
                TIMER_STATE,
                datetime.timedelta(seconds=1),  # due time
                datetime.timedelta(seconds=1),  # period
                datetime.timedelta(seconds=60),  # ttl
            )
        else:
            await self.unregister_timer(TIMER)

    async def timer_callback(self, state) -> None:
        # Saved by the runtime after the callback (post-method hook).
        fires = await self._state_manager.get_or_add_state('timer_fires', [])
        fires.append(state)
        await self._state_manager.set_state('timer_fires', fires)
        print(f'timer_callback: {state} (fire {len(fires)})', flush=True)

    async def get_timer_fires(self) -> object:
        _, fires = await self._state_manager.try_get_state('timer_fires')
        return fires or []

    async def get_reentrancy_status(self) -> bool:
        # The FastAPI extension sets the context from Dapr-Reentrancy-Id.
        return reentrancy_ctx.get() is not None

    async def call_myself(self) -> object:
        # An actor-to-actor call back into this same actor while its turn is
        # held: the proxy forwards the reentrancy id, so daprd must let it
        # in (without reentrancy it would wait for this call to end).
        proxy = ActorProxy.create(type(self).__name__, ActorId(self.id.id), DemoActorInterface)
        inner = await asyncio.wait_for(proxy.GetReentrancyStatus(), timeout=15)
        return {'outer': reentrancy_ctx.get(), 'inner_reentrant': inner}


class StrictDemoActor(DemoActor):
    """The same actor as another type, configured apart (per type): no
    reentrancy, a short idle timeout."""
