//! Encryption at rest for stored credentials: XChaCha20-Poly1305 with a key from the settings
//! or generated into the data dir (mode 0600).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

#[derive(Debug, thiserror::Error)]
#[error("stored secret cannot be decrypted (was the secret key changed?)")]
pub struct Undecryptable;

impl SecretBox {
    pub fn load_or_create(
        configured: Option<&str>,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<SecretBox> {
        let encoded = match configured {
            Some(key) => key.trim().to_string(),
            None => {
                let path = data_dir.join("secret_key");
                match std::fs::read_to_string(&path) {
                    Ok(text) => text.trim().to_string(),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
                        let encoded = STANDARD.encode(key);
                        write_private(&path, encoded.as_bytes())?;
                        encoded
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let key = STANDARD.decode(encoded)?;
        anyhow::ensure!(
            key.len() == 32,
            "the secret key must be 32 bytes, base64-encoded"
        );
        Ok(SecretBox {
            cipher: XChaCha20Poly1305::new_from_slice(&key)?,
        })
    }

    /// base64(nonce ‖ ciphertext)
    pub fn seal(&self, plain: &str) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut sealed = nonce.to_vec();
        sealed.extend(
            self.cipher
                .encrypt(&nonce, plain.as_bytes())
                .expect("encryption of a short secret cannot fail"),
        );
        STANDARD.encode(sealed)
    }

    pub fn open(&self, sealed: &str) -> Result<String, Undecryptable> {
        let bytes = STANDARD.decode(sealed).map_err(|_| Undecryptable)?;
        if bytes.len() < 24 {
            return Err(Undecryptable);
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| Undecryptable)?;
        String::from_utf8(plain).map_err(|_| Undecryptable)
    }
}

/// Writes a new file that only berth's user can read (a key, a secret); never overwrites one.
pub fn write_private(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_again_and_hide_the_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = SecretBox::load_or_create(None, dir.path()).unwrap();
        let sealed = secrets.seal("hunter2-password");
        assert!(!sealed.contains("hunter2"));
        assert_ne!(
            sealed,
            secrets.seal("hunter2-password"),
            "a fresh nonce each time"
        );
        assert_eq!(secrets.open(&sealed).unwrap(), "hunter2-password");
        // The same data dir gives the same key.
        let again = SecretBox::load_or_create(None, dir.path()).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), "hunter2-password");
        let other = SecretBox::load_or_create(None, tempfile::tempdir().unwrap().path()).unwrap();
        assert!(other.open(&sealed).is_err());
    }
}
