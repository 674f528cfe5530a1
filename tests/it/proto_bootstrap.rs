//! The committed generated code matches what `proto/` generates.

use std::path::{Path, PathBuf};

use prost::Message;

fn protos(root: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.extension().is_some_and(|x| x == "proto") {
                out.push(p.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut v = Vec::new();
    walk(root, root, &mut v);
    v.sort();
    v
}

/// Generates prost code and the descriptor set for `proto/` into `out`.
fn generate(out: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("proto");
    let fds = protox::compile(protos(&root), [&root]).expect("protos compile");
    std::fs::create_dir_all(out).unwrap();
    std::fs::write(out.join("descriptor.bin"), fds.encode_to_vec()).unwrap();
    let mut cfg = prost_build::Config::new();
    cfg.out_dir(out);
    cfg.compile_fds(fds).expect("prost-build");
}

#[test]
fn generated_code_is_up_to_date() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/proto/gen");
    if std::env::var_os("DAPRD_REGENERATE_PROTO").is_some() {
        generate(&committed);
        return;
    }
    let fresh = std::env::temp_dir().join(format!("daprd-proto-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&fresh);
    generate(&fresh);
    let mut stale = Vec::new();
    for e in std::fs::read_dir(&fresh).unwrap() {
        let name = e.unwrap().file_name();
        let new = std::fs::read(fresh.join(&name)).unwrap();
        if std::fs::read(committed.join(&name)).ok().as_deref() != Some(&new[..]) {
            stale.push(name.to_string_lossy().into_owned());
        }
    }
    let _ = std::fs::remove_dir_all(&fresh);
    assert!(
        stale.is_empty(),
        "src/proto/gen is stale ({stale:?}); run: DAPRD_REGENERATE_PROTO=1 cargo test --test it proto_bootstrap"
    );
}

#[test]
fn field_numbers_are_dapr_s() {
    use daprd::proto::dapr::proto::common::v1 as common;
    use daprd::proto::dapr::proto::runtime::v1 as rt;
    // SetMetadataRequest{key=1, value=2}: tags 0x0a and 0x12.
    let b = rt::SetMetadataRequest {
        key: "k".into(),
        value: "v".into(),
    }
    .encode_to_vec();
    assert_eq!(b, [0x0a, 1, b'k', 0x12, 1, b'v']);
    // GetMetadataResponse.runtime_version = 8 → tag (8<<3)|2 = 0x42.
    let b = rt::GetMetadataResponse {
        runtime_version: "x".into(),
        ..Default::default()
    }
    .encode_to_vec();
    assert_eq!(b, [0x42, 1, b'x']);
    // StateItem.etag = 3 (message) → 0x1a; Etag.value = 1.
    let b = common::StateItem {
        etag: Some(common::Etag { value: "1".into() }),
        ..Default::default()
    }
    .encode_to_vec();
    assert_eq!(b, [0x1a, 3, 0x0a, 1, b'1']);
    // ExecuteStateTransactionRequest.storeName = 1, operations = 2.
    let b = rt::ExecuteStateTransactionRequest {
        store_name: "s".into(),
        ..Default::default()
    }
    .encode_to_vec();
    assert_eq!(b, [0x0a, 1, b's']);
}
