"""NATS identities for the tests, made with the `nkeys` package the way `nsc` makes them: NKEY
user seeds, and for decentralized authentication an operator, an account and a user JWT signed
in turn (ed25519-nkey), the account preloaded into a memory resolver, the user written to a
`.creds` file."""
import base64
import json
import os
import time

import nkeys

_PREFIX = {"operator": nkeys.PREFIX_BYTE_OPERATOR, "account": nkeys.PREFIX_BYTE_ACCOUNT, "user": nkeys.PREFIX_BYTE_USER}


def keypair(kind="user"):
    seed = nkeys.encode_seed(os.urandom(32), _PREFIX[kind])
    return nkeys.from_seed(seed)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(issuer, subject_public, name, nats):
    header = {"typ": "JWT", "alg": "ed25519-nkey"}
    claims = {"jti": _b64(os.urandom(16)), "iat": int(time.time()), "iss": issuer.public_key.decode(),
              "name": name, "sub": subject_public, "nats": nats}
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    return signing_input + "." + _b64(issuer.sign(signing_input.encode()))


UNLIMITED = {"subs": -1, "data": -1, "payload": -1}


class Operator:
    """An operator with one account (JetStream enabled) whose users are made on demand."""

    def __init__(self, folder):
        self.folder = folder
        self.operator = keypair("operator")
        self.account = keypair("account")
        # JetStream needs the server's own system account.
        self.system = keypair("account")
        self.operator_jwt = _jwt(self.operator, self.operator.public_key.decode(), "tickstream-test",
                                 {"type": "operator", "version": 2, "system_account": self.system.public_key.decode()})
        self.system_jwt = _jwt(self.operator, self.system.public_key.decode(), "SYS", {"type": "account", "version": 2})
        limits = dict(UNLIMITED, imports=-1, exports=-1, wildcards=True, conn=-1, leaf=-1,
                      mem_storage=-1, disk_storage=-1, streams=-1, consumer=-1)
        self.account_jwt = _jwt(self.operator, self.account.public_key.decode(), "market",
                                {"limits": limits, "type": "account", "version": 2})
        self.operator_path = os.path.join(folder, "operator.jwt")
        with open(self.operator_path, "w") as f:
            f.write(self.operator_jwt)

    def server_config(self):
        return (f'operator: "{self.operator_path}"\nresolver: MEMORY\n'
                f'system_account: {self.system.public_key.decode()}\n'
                f'resolver_preload: {{ {self.account.public_key.decode()}: "{self.account_jwt}", '
                f'{self.system.public_key.decode()}: "{self.system_jwt}" }}\n')

    def creds(self, name="gateway", account=None):
        """A user of the account (or of another account's key: one the servers do not know) as a
        .creds file; returns (path, seed, jwt)."""
        user = keypair("user")
        jwt = _jwt(account or self.account, user.public_key.decode(), name,
                   dict(UNLIMITED, pub={}, sub={}, type="user", version=2))
        path = os.path.join(self.folder, f"{name}.creds")
        with open(path, "w") as f:
            f.write(creds_text(jwt, user.seed.decode()))
        return path, user.seed.decode(), jwt


def creds_text(jwt, seed):
    return f"""-----BEGIN NATS USER JWT-----
{jwt}
------END NATS USER JWT------

************************* IMPORTANT *************************
NKEY Seed printed below can be used to sign and prove identity.
NKEYs are sensitive and should be treated as secrets.

-----BEGIN USER NKEY SEED-----
{seed}
------END USER NKEY SEED------

*************************************************************
"""
