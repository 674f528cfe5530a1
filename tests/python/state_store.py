"""State API calls of python-sdk's examples/state_store, through the official
`dapr` package (DaprClient over gRPC), printing the lines that example's
README expects. Run by tests/it/python_sdk.rs against a real daprd with a
`state.redis` store named `statestore` whose outbox publishes to `pubsub`.

The sidecar comes from the environment, as `dapr run` sets it:
DAPR_RUNTIME_HOST, DAPR_GRPC_PORT, DAPR_HTTP_PORT (the SDK's readiness check).
"""

import grpc

from dapr.clients import DaprClient
from dapr.clients.grpc._request import TransactionalStateOperation, TransactionOperationType
from dapr.clients.grpc._state import StateItem

STORE = 'statestore'
Upsert = TransactionOperationType.upsert
Delete = TransactionOperationType.delete


def main():
    with DaprClient() as client:
        # One key, then a write with an ETag the store never gave out.
        client.save_state(store_name=STORE, key='key_1', value='value_1')
        print('State store has successfully saved value_1 with key_1 as key')
        try:
            client.save_state(store_name=STORE, key='key_1', value='value_2', etag='9999')
            print('UNEXPECTED: a save with a wrong ETag succeeded')
        except grpc.RpcError as err:
            print(f'Cannot save due to bad etag. ErrorCode={err.code()}')

        # Two keys in one bulk save, then the same with wrong ETags.
        items = [StateItem(key='key_2', value='value_2'), StateItem(key='key_3', value='value_3')]
        client.save_bulk_state(store_name=STORE, states=items)
        for item in items:
            print(f'State store has successfully saved {item.value} with {item.key} as key')
        try:
            client.save_bulk_state(
                store_name=STORE,
                states=[
                    StateItem(key='key_2', value='value_2', etag='999'),
                    StateItem(key='key_3', value='value_3', etag='999'),
                ],
            )
            print('UNEXPECTED: a bulk save with wrong ETags succeeded')
        except grpc.RpcError as err:
            print(f'Cannot save bulk due to bad etags. ErrorCode={err.code()}')

        got = client.get_state(store_name=STORE, key='key_1', state_metadata={'metakey': 'metavalue'})
        print(f'Got value={got.data} eTag={got.etag}')

        # A transaction whose first upsert carries the ETag just read.
        client.execute_state_transaction(
            store_name=STORE,
            operations=[
                TransactionalStateOperation(
                    operation_type=Upsert, key='key_1', data='value_1_updated', etag=got.etag
                ),
                TransactionalStateOperation(key='key_2', data='value_2'),
                TransactionalStateOperation(key='key_3', data='value_3'),
            ],
        )
        bulk = client.get_bulk_state(
            store_name=STORE, keys=['key_1', 'key_2'], states_metadata={'metakey': 'metavalue'}
        )
        print(f'Got items with etags: {[(i.data, i.etag) for i in bulk.items]}')

        # Transactional outbox: val1 is stored, val2 is published in its place.
        client.execute_state_transaction(
            store_name=STORE,
            operations=[
                TransactionalStateOperation(
                    key='key1', data='val1', metadata={'outbox.projection': 'false'}
                ),
                TransactionalStateOperation(
                    key='key1', data='val2', metadata={'outbox.projection': 'true'}
                ),
            ],
        )
        print('Transaction with outbox pattern executed successfully!')
        print(f"Got value after outbox pattern: {client.get_state(store_name=STORE, key='key1').data}")

        client.execute_state_transaction(
            store_name=STORE,
            operations=[
                TransactionalStateOperation(operation_type=Delete, key='key_1'),
                TransactionalStateOperation(operation_type=Delete, key='key_2'),
            ],
        )
        bulk = client.get_bulk_state(
            store_name=STORE, keys=['key_1', 'key_2'], states_metadata={'metakey': 'metavalue'}
        )
        print(f'Got values after transaction delete: {[i.data for i in bulk.items]}')

        client.delete_state(store_name=STORE, key='key_3', state_metadata={'metakey': 'metavalue'})
        print(f"Got value after delete: {client.get_state(store_name=STORE, key='key_3').data}")


if __name__ == '__main__':
    main()
