"""Metadata API calls of python-sdk's examples/metadata, through the official
`dapr` package (DaprClient over gRPC), printing the lines that example's
README expects. Run by tests/it/python_sdk.rs against a real daprd started
with the example's three components (lock.redis `lockstore`, pubsub.redis
`pubsub`, state.redis `statestore`).
"""

from dapr.clients import DaprClient

LABEL = 'is-this-our-metadata-example'


def main():
    with DaprClient() as client:
        print('First, we will assign a new custom label to Dapr sidecar')
        client.set_metadata(LABEL, 'yes')

        print("Now, we will fetch the sidecar's metadata")
        md = client.get_metadata()
        before = md.extended_metadata[LABEL]
        print('And this is what we got:')
        print(f'  application_id: {md.application_id}')
        print(f'  active_actors_count: {md.active_actors_count}')
        print('  registered_components:')
        for name, kind, version, caps in sorted(md.registered_components):
            print(f'    name={name} type={kind} version={version} capabilities={sorted(caps)}')

        print('We will update our custom label value and check it was persisted')
        client.set_metadata(LABEL, 'You bet it is!')
        after = client.get_metadata().extended_metadata[LABEL]
        print(f'We added a custom label named [{LABEL}]')
        print(f'Its old value was [{before}] but now it is [{after}]')


if __name__ == '__main__':
    main()
