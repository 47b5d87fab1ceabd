//! Test-only helpers: a minimal ZIP writer (stored members) so core tests can build wheels,
//! including deliberately broken ones, without a dependency.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::Digest;

pub struct Member {
    pub name: String,
    pub data: Vec<u8>,
    pub mode: u32,
}

pub fn member(name: &str, data: &[u8]) -> Member {
    Member {
        name: name.to_string(),
        data: data.to_vec(),
        mode: 0o100644,
    }
}

/// A stored (uncompressed) ZIP of `members`, Unix attributes, no comment.
pub fn zip(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for m in members {
        let offset = out.len() as u32;
        let crc = crc32fast::hash(&m.data);
        let name = m.name.as_bytes();
        let local_fields = |buf: &mut Vec<u8>| {
            buf.extend_from_slice(&20u16.to_le_bytes()); // version needed
            buf.extend_from_slice(&0x0800u16.to_le_bytes()); // flags: UTF-8
            buf.extend_from_slice(&0u16.to_le_bytes()); // stored
            buf.extend_from_slice(&[0, 0, 0x21, 0]); // time, date
            buf.extend_from_slice(&crc.to_le_bytes());
            buf.extend_from_slice(&(m.data.len() as u32).to_le_bytes());
            buf.extend_from_slice(&(m.data.len() as u32).to_le_bytes());
            buf.extend_from_slice(&(name.len() as u16).to_le_bytes());
            buf.extend_from_slice(&0u16.to_le_bytes()); // extra
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        local_fields(&mut out);
        out.extend_from_slice(name);
        out.extend_from_slice(&m.data);

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&((3u16 << 8) | 20).to_le_bytes()); // made by Unix
        local_fields(&mut central);
        central.extend_from_slice(&0u16.to_le_bytes()); // comment
        central.extend_from_slice(&0u16.to_le_bytes()); // disk
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attrs
        central.extend_from_slice(&(m.mode << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A well-formed wheel: `files` plus dist-info METADATA, WHEEL and a matching RECORD.
pub fn wheel(files: &[Member]) -> Vec<u8> {
    let di = "demo-1.0.dist-info";
    let mut members: Vec<Member> = files
        .iter()
        .map(|m| Member {
            name: m.name.clone(),
            data: m.data.clone(),
            mode: m.mode,
        })
        .collect();
    members.push(member(
        &format!("{di}/METADATA"),
        b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
    ));
    members.push(member(
        &format!("{di}/WHEEL"),
        b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n",
    ));
    let mut record = String::new();
    for m in &members {
        let digest = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&m.data));
        record.push_str(&format!("{},sha256={digest},{}\n", m.name, m.data.len()));
    }
    record.push_str(&format!("{di}/RECORD,,\n"));
    members.push(member(&format!("{di}/RECORD"), record.as_bytes()));
    zip(&members)
}
