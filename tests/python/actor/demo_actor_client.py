"""python-sdk's examples/demo_actor client for daprd's tests: an
`ActorProxy` for DemoActor '1' through its own daprd (DAPR_HTTP_PORT),
which must find the actor on the service's daprd through placement and
forward each call there (CallActor). `StrictDemoActor` is the same
actor under another type, whose per-type settings turn reentrancy off. Every answer is checked; any mismatch
prints MISMATCH and the script exits 1.
"""

import asyncio
import datetime
import sys
import time

from dapr.actor import ActorId, ActorProxy
from demo_actor_interface import DemoActorInterface

failures = []


def check(what, got, want):
    ok = got == want
    print(f'{"ok" if ok else "MISMATCH"}: {what}: got {got!r}, want {want!r}', flush=True)
    if not ok:
        failures.append(what)


async def main():
    proxy = ActorProxy.create('DemoActor', ActorId('1'), DemoActorInterface)

    # Nothing stored yet: the raw answer and the RPC-style one.
    check('invoke_method GetMyData (no state)', await proxy.invoke_method('GetMyData'), b'null')
    check('GetMyData (no state)', await proxy.GetMyData(), None)

    # Reentrancy is on for the type: daprd gives every call an id.
    check('invoke_method GetReentrancyStatus', await proxy.invoke_method('GetReentrancyStatus'), b'true')
    check('GetReentrancyStatus', await proxy.GetReentrancyStatus(), True)
    # An actor calling itself while it holds its turn gets in.
    answer = await proxy.CallMyself()
    check('CallMyself inner call reentrant', answer.get('inner_reentrant'), True)
    check('CallMyself had an id', isinstance(answer.get('outer'), str) and len(answer['outer']) > 0, True)

    # State through the state manager (one transaction), read back.
    before = datetime.datetime.now(datetime.timezone.utc)
    await proxy.SetMyData({'data': 'new_data'})
    got = await proxy.GetMyData()
    check('GetMyData data', got.get('data'), 'new_data')
    ts = got.get('ts')
    check('GetMyData ts is a datetime', isinstance(ts, datetime.datetime), True)
    check('GetMyData ts is recent', isinstance(ts, datetime.datetime) and ts >= before - datetime.timedelta(seconds=5), True)
    await proxy.SetMyData({'data': 'newer_data'})
    check('GetMyData after update', (await proxy.GetMyData()).get('data'), 'newer_data')

    # A timer (due 1 s, period 1 s): its callback stores each fire.
    await proxy.SetTimer(True)
    deadline = time.monotonic() + 20
    fires = []
    while time.monotonic() < deadline:
        fires = await proxy.GetTimerFires()
        if len(fires) >= 3:
            break
        await asyncio.sleep(0.25)
    print(f'timer fires: {fires}', flush=True)
    check('timer fired at least 3 times', len(fires) >= 3, True)
    check('timer callback data', set(fires), {'timer_state'})

    # Unregistered: no more fires (one already queued may still land).
    await proxy.SetTimer(False)
    await asyncio.sleep(1.5)
    stopped = len(await proxy.GetTimerFires())
    await asyncio.sleep(3)
    check('no timer fires after unregister', len(await proxy.GetTimerFires()), stopped)

    # Another type, configured per type: no reentrancy id, its own state.
    strict = ActorProxy.create('StrictDemoActor', ActorId('1'), DemoActorInterface)
    check('StrictDemoActor GetReentrancyStatus', await strict.GetReentrancyStatus(), False)
    await strict.SetMyData({'data': 'strict_data'})
    check('StrictDemoActor GetMyData', (await strict.GetMyData()).get('data'), 'strict_data')
    check('DemoActor data apart', (await proxy.GetMyData()).get('data'), 'newer_data')

    # Removing the state (a delete in the transaction).
    await proxy.ClearMyData()
    check('GetMyData after clear', await proxy.GetMyData(), None)

    if failures:
        print(f'FAILED: {failures}', flush=True)
        sys.exit(1)
    print('demo_actor client: all checks passed', flush=True)


asyncio.run(main())
