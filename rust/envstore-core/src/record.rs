//! The wheel's RECORD file (PEP 376 / the binary distribution format): path, hash, size rows.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::Digest;

pub struct RecordEntry {
    /// (algorithm, raw digest)
    pub hash: Option<(String, Vec<u8>)>,
    pub size: Option<u64>,
}

/// Parse RECORD into path -> entry. `Err((path, reason))` names the offending row.
pub fn parse(text: &[u8]) -> Result<HashMap<String, RecordEntry>, (String, String)> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text);
    let mut out = HashMap::new();
    for (line, row) in reader.records().enumerate() {
        let row = row.map_err(|e| (format!("line {}", line + 1), e.to_string()))?;
        let path = row.get(0).unwrap_or("").to_string();
        if path.is_empty() {
            return Err((format!("line {}", line + 1), "empty path".into()));
        }
        let hash = match row.get(1).unwrap_or("") {
            "" => None,
            h => {
                let (algo, digest) = h
                    .split_once('=')
                    .ok_or_else(|| (path.clone(), format!("malformed hash '{h}'")))?;
                let raw = URL_SAFE_NO_PAD
                    .decode(digest.trim_end_matches('='))
                    .map_err(|_| (path.clone(), format!("malformed hash '{h}'")))?;
                Some((algo.to_string(), raw))
            }
        };
        let size = match row.get(2).unwrap_or("") {
            "" => None,
            s => Some(
                s.parse::<u64>()
                    .map_err(|_| (path.clone(), format!("malformed size '{s}'")))?,
            ),
        };
        if out
            .insert(path.clone(), RecordEntry { hash, size })
            .is_some()
        {
            return Err((path, "listed twice".into()));
        }
    }
    Ok(out)
}

/// Check `data` against its RECORD row; `Err(reason)` on any disagreement.
pub fn check(entry: &RecordEntry, data: &[u8]) -> Result<(), String> {
    let (algo, expected) = entry.hash.as_ref().ok_or("no hash in RECORD")?;
    let actual: Vec<u8> = match algo.as_str() {
        "sha256" => sha2::Sha256::digest(data).to_vec(),
        "sha384" => sha2::Sha384::digest(data).to_vec(),
        "sha512" => sha2::Sha512::digest(data).to_vec(),
        other => return Err(format!("unsupported hash algorithm '{other}'")),
    };
    if &actual != expected {
        return Err(format!(
            "{algo} differs (RECORD {}, file {})",
            URL_SAFE_NO_PAD.encode(expected),
            URL_SAFE_NO_PAD.encode(&actual)
        ));
    }
    if let Some(size) = entry.size {
        if size != data.len() as u64 {
            return Err(format!("size differs (RECORD {size}, file {})", data.len()));
        }
    }
    Ok(())
}

/// Files a wheel may leave out of RECORD's hashes: RECORD itself and its signatures.
pub fn is_record_file(path: &str, dist_info: &str) -> bool {
    path.strip_prefix(dist_info)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|name| matches!(name, "RECORD" | "RECORD.jws" | "RECORD.p7s"))
}
