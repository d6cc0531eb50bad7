//! The real servers the sign-in tests sign in against, each test its own: Debian's slapd with a
//! small school directory, and node-oidc-provider (tests/idp/oidc.mjs) with an accounts file.
//! scripts/setup.sh --test-images installs both and makes the directory's TLS certificates.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

pub const LDAP_TLS_DIR: &str = "/var/lib/berth-test-ldap/tls";
pub const SUFFIX: &str = "dc=school,dc=test";
pub const BIND_DN: &str = "cn=berth,ou=services,dc=school,dc=test";
pub const BIND_PASSWORD: &str = "berth-bind-secret";
const ROOT_DN: &str = "cn=root,dc=school,dc=test";
const ROOT_PASSWORD: &str = "directory-root-secret";

/// `N` different ports nobody listens on now (another process may take one before it is used:
/// the servers here start again on new ports when theirs was taken).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let held: Vec<_> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| held[i].local_addr().unwrap().port())
}

/// Waits for `child` to listen on `port`; false if it exited first (its port was taken).
async fn listening(child: &mut Child, port: u16, what: &str) -> bool {
    for _ in 0..100 {
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!("{what} exited ({status}) before listening on {port}");
            return false;
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not start on port {port}");
}

/// A person of the test directory: `uid=<name>,ou=people`.
pub fn person_dn(name: &str) -> String {
    format!("uid={name},ou=people,{SUFFIX}")
}

pub fn group_dn(name: &str) -> String {
    format!("cn={name},ou=groups,{SUFFIX}")
}

/// slapd on loopback (`ldap://` with StartTLS, and `ldaps://`), with the people and groups it
/// was made with; the password policy overlay locks accounts (`lock`).
pub struct Directory {
    child: Child,
    pub port: u16,
    pub tls_port: u16,
    _dir: tempfile::TempDir,
}

impl Directory {
    /// `people` are (uid, password); `groups` are (cn, members' uids).
    pub async fn start(people: &[(&str, &str)], groups: &[(&str, &[&str])]) -> Directory {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        std::fs::create_dir(path.join("db")).unwrap();
        let conf = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             moduleload ppolicy\n\
             pidfile {pid}\n\
             TLSCACertificateFile {LDAP_TLS_DIR}/ca.pem\n\
             TLSCertificateFile {LDAP_TLS_DIR}/cert.pem\n\
             TLSCertificateKeyFile {LDAP_TLS_DIR}/key.pem\n\
             database mdb\n\
             suffix \"{SUFFIX}\"\n\
             rootdn \"{ROOT_DN}\"\n\
             rootpw {ROOT_PASSWORD}\n\
             directory {db}\n\
             overlay ppolicy\n\
             ppolicy_default \"cn=default,ou=policies,{SUFFIX}\"\n\
             access to attrs=userPassword by self auth by anonymous auth by * none\n\
             access to * by dn.exact=\"{BIND_DN}\" read by * none\n",
            pid = path.join("slapd.pid").display(),
            db = path.join("db").display(),
        );
        std::fs::write(path.join("slapd.conf"), conf).unwrap();
        let mut seed = format!(
            "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: School\ndc: school\n\n\
             dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n\
             dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n\
             dn: ou=services,{SUFFIX}\nobjectClass: organizationalUnit\nou: services\n\n\
             dn: ou=policies,{SUFFIX}\nobjectClass: organizationalUnit\nou: policies\n\n\
             dn: cn=default,ou=policies,{SUFFIX}\nobjectClass: pwdPolicy\nobjectClass: device\n\
             cn: default\npwdAttribute: userPassword\npwdLockout: TRUE\n\n\
             dn: {BIND_DN}\nobjectClass: simpleSecurityObject\nobjectClass: organizationalRole\n\
             cn: berth\nuserPassword: {BIND_PASSWORD}\n\n"
        );
        for (uid, password) in people {
            seed += &format!(
                "dn: {}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\n\
                 userPassword: {password}\n\n",
                person_dn(uid)
            );
        }
        for (cn, members) in groups {
            seed += &format!(
                "dn: {}\nobjectClass: groupOfNames\ncn: {cn}\n",
                group_dn(cn)
            );
            // groupOfNames needs a member; the service account stands in for an empty group.
            for member in members
                .iter()
                .map(|m| person_dn(m))
                .chain([BIND_DN.to_string()])
            {
                seed += &format!("member: {member}\n");
            }
            seed += "\n";
        }
        std::fs::write(path.join("seed.ldif"), seed).unwrap();
        let added = Command::new("slapadd")
            .arg("-f")
            .arg(path.join("slapd.conf"))
            .arg("-l")
            .arg(path.join("seed.ldif"))
            .output()
            .expect("slapadd runs (scripts/setup.sh --test-images installs slapd)");
        assert!(
            added.status.success(),
            "{}",
            String::from_utf8_lossy(&added.stderr)
        );
        for _ in 0..5 {
            let [port, tls_port] = free_ports();
            let mut child = Command::new("slapd")
                .args(["-d", "0", "-f"])
                .arg(path.join("slapd.conf"))
                .arg("-h")
                .arg(format!(
                    "ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/"
                ))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("slapd starts");
            if listening(&mut child, port, "slapd").await
                && listening(&mut child, tls_port, "slapd").await
            {
                return Directory {
                    child,
                    port,
                    tls_port,
                    _dir: dir,
                };
            }
        }
        panic!("slapd did not start");
    }

    /// Settings for berth: StartTLS on the plain port, trusting the test CA; admins and
    /// teachers are the `admins` and `teachers` groups.
    pub fn settings(&self) -> berth::config::LdapSettings {
        berth::config::LdapSettings {
            url: format!("ldap://127.0.0.1:{}", self.port),
            starttls: true,
            ca_file: Some(PathBuf::from(format!("{LDAP_TLS_DIR}/ca.pem"))),
            bind_dn: BIND_DN.into(),
            bind_password: BIND_PASSWORD.into(),
            user_base: format!("ou=people,{SUFFIX}"),
            user_filter: "(&(objectClass=inetOrgPerson)(uid={username}))".into(),
            group_base: Some(format!("ou=groups,{SUFFIX}")),
            admin_groups: vec![group_dn("admins")],
            teacher_groups: vec!["teachers".into()],
            ..berth::config::LdapSettings::default()
        }
    }

    /// Applies an LDIF change as the directory's root.
    pub fn modify(&self, ldif: &str) {
        use std::io::Write;
        let mut child = Command::new("ldapmodify")
            .args(["-x", "-H", &format!("ldap://127.0.0.1:{}", self.port)])
            .args(["-D", ROOT_DN, "-w", ROOT_PASSWORD])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ldif.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn add_to_group(&self, uid: &str, group: &str) {
        self.modify(&format!(
            "dn: {}\nchangetype: modify\nadd: member\nmember: {}\n",
            group_dn(group),
            person_dn(uid)
        ));
    }

    pub fn remove_from_group(&self, uid: &str, group: &str) {
        self.modify(&format!(
            "dn: {}\nchangetype: modify\ndelete: member\nmember: {}\n",
            group_dn(group),
            person_dn(uid)
        ));
    }

    /// Locks the account as the password policy does: binds as it fail from now on.
    pub fn lock(&self, uid: &str) {
        self.modify(&format!(
            "dn: {}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n",
            person_dn(uid)
        ));
    }
}

impl Drop for Directory {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const CLIENT_ID: &str = "berth";
pub const CLIENT_SECRET: &str = "berth-oidc-client-secret";

/// node-oidc-provider on loopback, with a login form of its own over an accounts file.
pub struct IdentityProvider {
    child: Child,
    accounts: PathBuf,
    _dir: tempfile::TempDir,
}

impl IdentityProvider {
    /// On `port` (from [`free_ports`], so that berth can be told the issuer first), sending
    /// browsers back to `redirect_uri`.
    pub async fn start(port: u16, redirect_uri: &str, accounts: Value) -> IdentityProvider {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("accounts.json");
        std::fs::write(&file, accounts.to_string()).unwrap();
        let root = env!("CARGO_MANIFEST_DIR");
        let mut child = Command::new("node")
            .arg(format!("{root}/tests/idp/oidc.mjs"))
            .args(["--port", &port.to_string(), "--accounts"])
            .arg(&file)
            .args(["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET])
            .args(["--redirect-uri", redirect_uri])
            .current_dir(format!("{root}/tests/idp"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs (scripts/setup.sh --test-images installs tests/idp)");
        assert!(
            listening(&mut child, port, "the identity provider").await,
            "the identity provider could not listen on {port}"
        );
        IdentityProvider {
            child,
            accounts: file,
            _dir: dir,
        }
    }

    /// Rewrites the accounts file; the provider reads it at every login.
    pub fn set_accounts(&self, accounts: Value) {
        std::fs::write(&self.accounts, accounts.to_string()).unwrap();
    }
}

impl Drop for IdentityProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// berth's settings for a provider at `port`, calling back to berth at `berth_port`.
pub fn oidc_settings(port: u16, berth_port: u16) -> berth::config::OidcSettings {
    berth::config::OidcSettings {
        issuer: format!("http://127.0.0.1:{port}"),
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_url: format!("http://127.0.0.1:{berth_port}/api/v1/auth/oidc/callback"),
        scopes: vec!["profile".into(), "groups".into()],
        admin_values: vec!["it-staff".into()],
        teacher_values: vec!["teachers".into()],
        label: "School ID".into(),
        ..berth::config::OidcSettings::default()
    }
}

/// One account of the provider's accounts file.
pub fn idp_account(password: &str, groups: &[&str]) -> Value {
    json!({"password": password, "groups": groups})
}
