"""python-sdk's examples/demo_actor service for daprd's tests: FastAPI with
the `dapr-ext-fastapi` actor routes (`/dapr/config`, method, timer and
deactivation callbacks), hosting `DemoActor` with reentrancy on, and
`StrictDemoActor` (the same actor) with a per-type override (its
`entitiesConfig` entry): reentrancy off, idle after 1 s. Started as the
example is, by uvicorn (from this folder):

    python3 -m uvicorn --host 127.0.0.1 --port PORT demo_actor_service:app

next to a daprd with `--app-port PORT` (DAPR_HTTP_PORT names that daprd,
for the actors' own calls: state, timers, actor-to-actor).
"""

import datetime
from contextlib import asynccontextmanager

from dapr.actor.runtime.config import (
    ActorReentrancyConfig,
    ActorRuntimeConfig,
    ActorTypeConfig,
)
from dapr.actor.runtime.runtime import ActorRuntime
from dapr.ext.fastapi import DaprActor
from demo_actor import DemoActor, StrictDemoActor
from fastapi import FastAPI

ActorRuntime.set_actor_config(
    ActorRuntimeConfig(
        actor_idle_timeout=datetime.timedelta(hours=1),
        reentrancy=ActorReentrancyConfig(enabled=True),
        actor_type_configs=[
            ActorTypeConfig(
                StrictDemoActor.__name__,
                actor_idle_timeout=datetime.timedelta(seconds=1),
                reentrancy=ActorReentrancyConfig(enabled=False),
            )
        ],
    )
)


@asynccontextmanager
async def lifespan(_app):
    await actor.register_actor(DemoActor)
    await actor.register_actor(StrictDemoActor)
    print('registered DemoActor, StrictDemoActor', flush=True)
    yield


app = FastAPI(title='DemoActorService', lifespan=lifespan)
actor = DaprActor(app)
