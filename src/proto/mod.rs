//! Generated protobuf types (prost) for the protos under `proto/`.
//!
//! The code in `gen/` is generated from our `.proto` files with the pure-Rust
//! `protox` compiler and `prost-build` (no system `protoc`) and committed, so
//! a normal build needs neither. `gen/descriptor.bin` is the compiled
//! `FileDescriptorSet` (for gRPC server reflection). See `proto/UPSTREAM.md`.

#![allow(missing_docs, clippy::all, clippy::pedantic, unreachable_pub)]

/// Dapr's packages.
pub mod dapr {
    /// `dapr.proto.*`
    pub mod proto {
        /// `dapr.proto.common.*`
        pub mod common {
            /// `dapr.proto.common.v1`
            pub mod v1 {
                include!("gen/dapr.proto.common.v1.rs");
            }
        }
        /// `dapr.proto.internals.*` (sidecar to sidecar)
        pub mod internals {
            /// `dapr.proto.internals.v1`
            pub mod v1 {
                include!("gen/dapr.proto.internals.v1.rs");
            }
        }
        /// `dapr.proto.placement.*` (sidecars and the placement service)
        pub mod placement {
            /// `dapr.proto.placement.v1`
            pub mod v1 {
                include!("gen/dapr.proto.placement.v1.rs");
            }
        }
        /// `dapr.proto.scheduler.*` (sidecars and the scheduler service)
        pub mod scheduler {
            /// `dapr.proto.scheduler.v1`
            pub mod v1 {
                include!("gen/dapr.proto.scheduler.v1.rs");
            }
        }
        /// `dapr.proto.runtime.*`
        pub mod runtime {
            /// `dapr.proto.runtime.v1`
            pub mod v1 {
                include!("gen/dapr.proto.runtime.v1.rs");
            }
        }
    }
}

/// gRPC's own packages.
pub mod grpc {
    /// `grpc.reflection.*`
    pub mod reflection {
        /// `grpc.reflection.v1`
        pub mod v1 {
            include!("gen/grpc.reflection.v1.rs");
        }
        /// `grpc.reflection.v1alpha`
        pub mod v1alpha {
            include!("gen/grpc.reflection.v1alpha.rs");
        }
    }
}

/// Google's packages.
pub mod google {
    /// `google.rpc`
    pub mod rpc {
        include!("gen/google.rpc.rs");
    }
}

/// The compiled `FileDescriptorSet` of every proto file.
/// The Dapr API's gRPC service, `dapr.proto.runtime.v1.Dapr`.
pub const DAPR_SERVICE: &str = "dapr.proto.runtime.v1.Dapr";

/// The compiled `FileDescriptorSet` of every proto (for gRPC server reflection).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("gen/descriptor.bin");
