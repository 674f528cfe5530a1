//! gRPC server reflection: `grpc.reflection.v1.ServerReflection` and
//! `grpc.reflection.v1alpha.ServerReflection`, method `ServerReflectionInfo`
//! (bidi streaming), so `grpcurl list` / `describe` work against daprd.
//!
//! Go daprd has no reflection; this follows grpc-go's reflection service.
//! Answers come from [`FILE_DESCRIPTOR_SET`] — every proto file we compile,
//! the well-known types included — indexed once per process ([`Index`]).
//! A [`Session`] answers one stream's requests in order, sans I/O:
//! - `list_services`: the services this server answers (not every service
//!   in the set: `AppCallback*` are the app's, not ours);
//! - `file_by_filename`, `file_containing_symbol` (services, methods,
//!   messages, fields, oneofs, enums, enum values, extensions; with or
//!   without a leading dot), `file_containing_extension`: the file and its
//!   transitive imports, skipping imports already sent on this stream
//!   (grpc-go does the same);
//! - `all_extension_numbers_of_type`: the extension numbers of a message.
//!
//! Unknown names get an `error_response` with `NOT_FOUND` and the stream
//! stays open. v1alpha's messages are v1's under another package, so both
//! paths decode and encode the same types.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::OnceLock;

use bytes::Bytes;
use prost::Message;
use prost_types::{DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorSet};

use super::server::Status;
use super::status::GrpcCode;
use super::stream::{self, Incoming, Outgoing};
use crate::proto::grpc::reflection::v1 as pb;
use crate::proto::FILE_DESCRIPTOR_SET;
use pb::server_reflection_request::MessageRequest;
use pb::server_reflection_response::MessageResponse;

/// The reflection method (the same on both services).
pub const METHOD: &str = "ServerReflectionInfo";
/// The current reflection service.
pub const V1_SERVICE: &str = "grpc.reflection.v1.ServerReflection";
/// The pre-release reflection service, still what many clients try first.
pub const V1ALPHA_SERVICE: &str = "grpc.reflection.v1alpha.ServerReflection";
/// Both reflection services.
pub const SERVICES: [&str; 2] = [V1_SERVICE, V1ALPHA_SERVICE];
/// What `list_services` answers: the services this server serves.
pub const SERVED: [&str; 3] = [crate::proto::DAPR_SERVICE, V1_SERVICE, V1ALPHA_SERVICE];

/// Serves one `ServerReflectionInfo` stream: every request is answered, in
/// order, as it arrives, until the client half-closes.
pub async fn serve(incoming: &mut Incoming, outgoing: &mut Outgoing) -> Result<(), Status> {
    let mut session = Session::new();
    while let Some(request) = incoming.message().await? {
        let response = session.answer_bytes(&request)?;
        outgoing.send(&response).await?;
    }
    Ok(())
}

// === impl Session ===

/// One reflection stream's state: which files it has been sent.
pub struct Session<'a> {
    index: &'a Index,
    sent: HashSet<usize>,
}

impl Session<'static> {
    /// A session over the process-wide index.
    pub fn new() -> Self {
        Self::with_index(Index::global())
    }
}

impl Default for Session<'static> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> Session<'a> {
    /// A session over `index`.
    pub fn with_index(index: &'a Index) -> Self {
        Self {
            index,
            sent: HashSet::new(),
        }
    }

    /// Answers an encoded request (v1 or v1alpha) with an encoded response.
    pub fn answer_bytes(&mut self, request: &[u8]) -> Result<Bytes, Status> {
        let request: pb::ServerReflectionRequest = stream::decode(request)?;
        Ok(Bytes::from(self.answer(request)?.encode_to_vec()))
    }

    /// Answers one request. A request naming something unknown gets an
    /// `error_response`; only a request with no question at all is an error
    /// that ends the stream (`INVALID_ARGUMENT`, as grpc-go).
    pub fn answer(
        &mut self,
        request: pb::ServerReflectionRequest,
    ) -> Result<pb::ServerReflectionResponse, Status> {
        let Some(question) = &request.message_request else {
            return Err(Status::new(
                GrpcCode::InvalidArgument,
                "invalid MessageRequest: <nil>",
            ));
        };
        let index = self.index;
        let response = match question {
            MessageRequest::ListServices(_) => {
                MessageResponse::ListServicesResponse(pb::ListServiceResponse {
                    service: SERVED
                        .iter()
                        .map(|s| pb::ServiceResponse {
                            name: (*s).to_owned(),
                        })
                        .collect(),
                })
            }
            MessageRequest::FileByFilename(name) => match index.by_name.get(name) {
                Some(&file) => self.files(file),
                None => not_found(format!("file not found: {name}")),
            },
            MessageRequest::FileContainingSymbol(symbol) => {
                match index.symbols.get(strip_dot(symbol)) {
                    Some(s) => self.files(s.file),
                    None => not_found(format!("symbol not found: {symbol}")),
                }
            }
            MessageRequest::FileContainingExtension(ext) => {
                let file = index
                    .extensions
                    .get(strip_dot(&ext.containing_type))
                    .and_then(|numbers| numbers.get(&ext.extension_number));
                match file {
                    Some(&file) => self.files(file),
                    None => not_found(format!(
                        "extension not found: {} of {}",
                        ext.extension_number, ext.containing_type
                    )),
                }
            }
            MessageRequest::AllExtensionNumbersOfType(name) => {
                let ty = strip_dot(name);
                match index.symbols.get(ty) {
                    Some(s) if s.kind == Kind::Message => {
                        MessageResponse::AllExtensionNumbersResponse(pb::ExtensionNumberResponse {
                            base_type_name: ty.to_owned(),
                            extension_number: index
                                .extensions
                                .get(ty)
                                .map(|n| n.keys().copied().collect())
                                .unwrap_or_default(),
                        })
                    }
                    _ => not_found(format!("message type not found: {name}")),
                }
            }
        };
        Ok(pb::ServerReflectionResponse {
            valid_host: request.host.clone(),
            original_request: Some(request),
            message_response: Some(response),
        })
    }

    /// `file` and, breadth-first, its imports not yet sent on this stream.
    fn files(&mut self, file: usize) -> MessageResponse {
        let mut out = Vec::new();
        let mut queue = VecDeque::from([file]);
        let mut visited = HashSet::new();
        while let Some(f) = queue.pop_front() {
            if !visited.insert(f) {
                continue;
            }
            // The file asked for is always sent, even if it was before.
            if self.sent.insert(f) || f == file {
                out.push(self.index.files[f].encoded.to_vec());
            }
            queue.extend(self.index.files[f].imports.iter().copied());
        }
        MessageResponse::FileDescriptorResponse(pb::FileDescriptorResponse {
            file_descriptor_proto: out,
        })
    }
}

fn not_found(message: String) -> MessageResponse {
    MessageResponse::ErrorResponse(pb::ErrorResponse {
        error_code: i32::from(GrpcCode::NotFound.as_u8()),
        error_message: message,
    })
}

fn strip_dot(name: &str) -> &str {
    name.strip_prefix('.').unwrap_or(name)
}

// === impl Index ===

/// Files, symbols and extensions of a descriptor set, built once.
#[derive(Debug, Default)]
pub struct Index {
    files: Vec<IndexedFile>,
    by_name: HashMap<String, usize>,
    /// Fully-qualified name (no leading dot) → where it is defined.
    symbols: HashMap<String, Symbol>,
    /// Extended message (no leading dot) → extension number → file.
    extensions: HashMap<String, BTreeMap<i32, usize>>,
}

#[derive(Debug)]
struct IndexedFile {
    /// The serialized `FileDescriptorProto`.
    encoded: Bytes,
    /// Indexes of the imported files present in the set.
    imports: Vec<usize>,
}

#[derive(Debug, Clone, Copy)]
struct Symbol {
    file: usize,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Message,
    Other,
}

impl Index {
    /// The index of [`FILE_DESCRIPTOR_SET`], built on first use.
    pub fn global() -> &'static Index {
        static INDEX: OnceLock<Index> = OnceLock::new();
        INDEX.get_or_init(|| {
            Index::build(FILE_DESCRIPTOR_SET).unwrap_or_else(|e| {
                // The set is compiled in and checked by tests; this cannot
                // happen short of a broken build.
                tracing::error!(error = %e, "embedded descriptor set does not decode; reflection is empty");
                Index::default()
            })
        })
    }

    /// Indexes an encoded `FileDescriptorSet`.
    pub fn build(set: &[u8]) -> Result<Index, prost::DecodeError> {
        let set = FileDescriptorSet::decode(set)?;
        let mut index = Index::default();
        for (i, file) in set.file.iter().enumerate() {
            index.by_name.entry(file.name().to_owned()).or_insert(i);
        }
        for (i, file) in set.file.iter().enumerate() {
            let pkg = file.package();
            for s in &file.service {
                let name = join(pkg, s.name());
                for m in &s.method {
                    index.symbol(join(&name, m.name()), i, Kind::Other);
                }
                index.symbol(name, i, Kind::Other);
            }
            for m in &file.message_type {
                index.message(pkg, m, i);
            }
            for e in &file.enum_type {
                index.enumeration(pkg, e, i);
            }
            for x in &file.extension {
                index.extension(pkg, x, i);
            }
            let imports = file
                .dependency
                .iter()
                .filter_map(|d| index.by_name.get(d).copied())
                .collect();
            index.files.push(IndexedFile {
                encoded: Bytes::from(file.encode_to_vec()),
                imports,
            });
        }
        Ok(index)
    }

    fn symbol(&mut self, name: String, file: usize, kind: Kind) {
        self.symbols.entry(name).or_insert(Symbol { file, kind });
    }

    fn message(&mut self, scope: &str, m: &DescriptorProto, file: usize) {
        let name = join(scope, m.name());
        for f in &m.field {
            self.symbol(join(&name, f.name()), file, Kind::Other);
        }
        for o in &m.oneof_decl {
            self.symbol(join(&name, o.name()), file, Kind::Other);
        }
        for n in &m.nested_type {
            self.message(&name, n, file);
        }
        for e in &m.enum_type {
            self.enumeration(&name, e, file);
        }
        for x in &m.extension {
            self.extension(&name, x, file);
        }
        self.symbol(name, file, Kind::Message);
    }

    fn enumeration(&mut self, scope: &str, e: &EnumDescriptorProto, file: usize) {
        // Enum values are scoped as siblings of their enum, as in C++.
        for v in &e.value {
            self.symbol(join(scope, v.name()), file, Kind::Other);
        }
        self.symbol(join(scope, e.name()), file, Kind::Other);
    }

    fn extension(&mut self, scope: &str, x: &FieldDescriptorProto, file: usize) {
        self.symbol(join(scope, x.name()), file, Kind::Other);
        self.extensions
            .entry(strip_dot(x.extendee()).to_owned())
            .or_default()
            .entry(x.number())
            .or_insert(file);
    }
}

fn join(scope: &str, name: &str) -> String {
    if scope.is_empty() {
        name.to_owned()
    } else {
        format!("{scope}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::FileDescriptorProto;

    fn ask(session: &mut Session<'_>, q: MessageRequest) -> MessageResponse {
        let r = session
            .answer(pb::ServerReflectionRequest {
                host: "h".into(),
                message_request: Some(q),
            })
            .unwrap();
        assert_eq!(r.valid_host, "h");
        assert!(r.original_request.is_some());
        r.message_response.unwrap()
    }

    fn file_names(r: MessageResponse) -> Vec<String> {
        let MessageResponse::FileDescriptorResponse(f) = r else {
            panic!("not a file response: {r:?}");
        };
        f.file_descriptor_proto
            .iter()
            .map(|b| {
                FileDescriptorProto::decode(&b[..])
                    .unwrap()
                    .name()
                    .to_owned()
            })
            .collect()
    }

    fn symbol(s: &str) -> MessageRequest {
        MessageRequest::FileContainingSymbol(s.into())
    }

    fn assert_not_found(r: MessageResponse) {
        let MessageResponse::ErrorResponse(e) = r else {
            panic!("not an error: {r:?}");
        };
        assert_eq!(e.error_code, 5);
        assert!(!e.error_message.is_empty());
    }

    #[test]
    fn embedded_set_indexes_with_served_services_and_well_known_types() {
        let index = Index::build(FILE_DESCRIPTOR_SET).unwrap();
        for s in SERVED {
            assert!(index.symbols.contains_key(s), "{s} missing from the set");
        }
        for f in ["google/protobuf/any.proto", "google/protobuf/empty.proto"] {
            assert!(index.by_name.contains_key(f), "{f} missing from the set");
        }
    }

    #[test]
    fn list_services_names_only_what_we_serve() {
        let mut s = Session::new();
        let MessageResponse::ListServicesResponse(l) =
            ask(&mut s, MessageRequest::ListServices(String::new()))
        else {
            panic!("not a service list");
        };
        let names: Vec<_> = l.service.into_iter().map(|s| s.name).collect();
        assert_eq!(names, SERVED);
    }

    #[test]
    fn symbol_lookup_sends_the_file_then_its_imports_once() {
        let mut s = Session::new();
        let names = file_names(ask(&mut s, symbol("dapr.proto.runtime.v1.Dapr")));
        assert_eq!(names[0], "dapr/proto/runtime/v1/dapr.proto");
        for dep in [
            "dapr/proto/common/v1/common.proto",
            "dapr/proto/runtime/v1/state.proto",
            "google/protobuf/any.proto",
            "google/protobuf/empty.proto",
        ] {
            assert!(names.iter().any(|n| n == dep), "{dep} not in {names:?}");
        }
        let unique: HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "duplicates in {names:?}");
        // Asked again on the same stream: the file, without the imports sent.
        let again = file_names(ask(&mut s, symbol(".dapr.proto.runtime.v1.Dapr")));
        assert_eq!(again, ["dapr/proto/runtime/v1/dapr.proto"]);
        // A fresh stream gets everything again.
        let mut fresh = Session::new();
        assert_eq!(
            file_names(ask(&mut fresh, symbol("dapr.proto.runtime.v1.Dapr"))),
            names
        );
    }

    #[test]
    fn every_kind_of_symbol_resolves_to_its_file() {
        let cases = [
            (
                "dapr.proto.runtime.v1.Dapr.GetState",
                "dapr/proto/runtime/v1/dapr.proto",
            ),
            (
                "dapr.proto.runtime.v1.GetStateRequest",
                "dapr/proto/runtime/v1/state.proto",
            ),
            (
                ".dapr.proto.runtime.v1.GetStateRequest.key",
                "dapr/proto/runtime/v1/state.proto",
            ),
            // A map field's entry type is a nested message.
            (
                "dapr.proto.runtime.v1.GetStateRequest.MetadataEntry",
                "dapr/proto/runtime/v1/state.proto",
            ),
            (
                "dapr.proto.common.v1.StateOptions.StateConcurrency",
                "dapr/proto/common/v1/common.proto",
            ),
            // Enum values are siblings of their enum.
            (
                "dapr.proto.common.v1.StateOptions.CONCURRENCY_FIRST_WRITE",
                "dapr/proto/common/v1/common.proto",
            ),
            (
                "grpc.reflection.v1.ServerReflectionRequest.message_request",
                "grpc/reflection/v1/reflection.proto",
            ),
            ("google.protobuf.Any", "google/protobuf/any.proto"),
            (V1ALPHA_SERVICE, "grpc/reflection/v1alpha/reflection.proto"),
        ];
        for (sym, file) in cases {
            let mut s = Session::new();
            assert_eq!(file_names(ask(&mut s, symbol(sym)))[0], file, "{sym}");
        }
    }

    #[test]
    fn unknown_names_are_not_found_and_the_session_goes_on() {
        let mut s = Session::new();
        assert_not_found(ask(&mut s, symbol("no.such.Symbol")));
        assert_not_found(ask(&mut s, symbol("dapr.proto.runtime")));
        assert_not_found(ask(
            &mut s,
            MessageRequest::FileByFilename("nope.proto".into()),
        ));
        assert_not_found(ask(
            &mut s,
            MessageRequest::FileContainingExtension(pb::ExtensionRequest {
                containing_type: "dapr.proto.runtime.v1.GetStateRequest".into(),
                extension_number: 100,
            }),
        ));
        assert_not_found(ask(
            &mut s,
            MessageRequest::AllExtensionNumbersOfType("no.Such".into()),
        ));
        // A service is not a message type.
        assert_not_found(ask(
            &mut s,
            MessageRequest::AllExtensionNumbersOfType("dapr.proto.runtime.v1.Dapr".into()),
        ));
        assert_eq!(
            file_names(ask(
                &mut s,
                MessageRequest::FileByFilename("dapr/proto/common/v1/common.proto".into())
            ))[0],
            "dapr/proto/common/v1/common.proto"
        );
    }

    #[test]
    fn extension_numbers_of_a_message_without_extensions() {
        let mut s = Session::new();
        let r = ask(
            &mut s,
            MessageRequest::AllExtensionNumbersOfType(
                ".dapr.proto.runtime.v1.GetStateRequest".into(),
            ),
        );
        let MessageResponse::AllExtensionNumbersResponse(n) = r else {
            panic!("{r:?}");
        };
        assert_eq!(n.base_type_name, "dapr.proto.runtime.v1.GetStateRequest");
        assert!(n.extension_number.is_empty());
    }

    #[test]
    fn extensions_are_indexed() {
        // A set of one file extending a message of another.
        let base = FileDescriptorProto {
            name: Some("base.proto".into()),
            package: Some("p".into()),
            message_type: vec![DescriptorProto {
                name: Some("Base".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let ext = FileDescriptorProto {
            name: Some("ext.proto".into()),
            package: Some("q".into()),
            dependency: vec!["base.proto".into()],
            extension: vec![FieldDescriptorProto {
                name: Some("extra".into()),
                number: Some(1000),
                extendee: Some(".p.Base".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let set = FileDescriptorSet {
            file: vec![base, ext],
        };
        let index = Index::build(&set.encode_to_vec()).unwrap();
        let mut s = Session::with_index(&index);
        let r = ask(
            &mut s,
            MessageRequest::AllExtensionNumbersOfType("p.Base".into()),
        );
        let MessageResponse::AllExtensionNumbersResponse(n) = r else {
            panic!("{r:?}");
        };
        assert_eq!(n.extension_number, [1000]);
        let files = file_names(ask(
            &mut s,
            MessageRequest::FileContainingExtension(pb::ExtensionRequest {
                containing_type: ".p.Base".into(),
                extension_number: 1000,
            }),
        ));
        assert_eq!(files, ["ext.proto", "base.proto"]);
        assert_eq!(file_names(ask(&mut s, symbol("q.extra"))), ["ext.proto"]);
    }

    #[test]
    fn an_empty_request_ends_the_stream_and_garbage_is_invalid() {
        let mut s = Session::new();
        let err = s
            .answer(pb::ServerReflectionRequest::default())
            .unwrap_err();
        assert_eq!(err.code, GrpcCode::InvalidArgument);
        let err = s.answer_bytes(&[0xff, 0xff, 0xff]).unwrap_err();
        assert_eq!(err.code, GrpcCode::InvalidArgument);
    }

    #[test]
    fn v1alpha_messages_are_v1_on_the_wire() {
        use crate::proto::grpc::reflection::v1alpha as alpha;
        let req = alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                alpha::server_reflection_request::MessageRequest::ListServices("*".into()),
            ),
        };
        let mut s = Session::new();
        let out = s.answer_bytes(&req.encode_to_vec()).unwrap();
        let resp = alpha::ServerReflectionResponse::decode(out).unwrap();
        assert_eq!(resp.original_request, Some(req));
        let Some(alpha::server_reflection_response::MessageResponse::ListServicesResponse(l)) =
            resp.message_response
        else {
            panic!("not a service list");
        };
        assert_eq!(l.service.len(), SERVED.len());
    }
}
