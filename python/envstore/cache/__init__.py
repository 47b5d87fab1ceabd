"""The binary cache (issue 18): a remote end (an S3-compatible bucket or a file:// directory)
holding blobs, manifests and signed prefix records, and the ed25519 keys that sign them. This
package moves bytes and checks signatures; what to push or substitute is decided in ops/."""
