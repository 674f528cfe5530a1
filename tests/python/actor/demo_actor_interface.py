"""The actor interface shared by demo_actor_service.py and
demo_actor_client.py: the methods of python-sdk's examples/demo_actor
(reminders left out: they need the scheduler), plus the two that let the
client observe a timer and a reentrant call.
"""

from dapr.actor import ActorInterface, actormethod


class DemoActorInterface(ActorInterface):
    @actormethod(name='GetMyData')
    async def get_my_data(self) -> object: ...

    @actormethod(name='SetMyData')
    async def set_my_data(self, data: object) -> None: ...

    @actormethod(name='ClearMyData')
    async def clear_my_data(self) -> None: ...

    @actormethod(name='SetTimer')
    async def set_timer(self, enabled: bool) -> None: ...

    @actormethod(name='GetTimerFires')
    async def get_timer_fires(self) -> object: ...

    @actormethod(name='GetReentrancyStatus')
    async def get_reentrancy_status(self) -> bool: ...

    @actormethod(name='CallMyself')
    async def call_myself(self) -> object: ...
