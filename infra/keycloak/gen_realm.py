"""Generates aicommons-realm.json (kept in git; rerun after editing this file).

python infra/keycloak/gen_realm.py > infra/keycloak/aicommons-realm.json
"""

import json

PASSWORD = "Test-Pass-123"
AUDIENCES = ["aicommons-portal", "mlflow", "minio"]


def audience_mapper(client_id: str) -> dict:
    return {
        "name": f"audience-{client_id}",
        "protocol": "openid-connect",
        "protocolMapper": "oidc-audience-mapper",
        "consentRequired": False,
        "config": {
            "included.client.audience": client_id,
            "id.token.claim": "false",
            "access.token.claim": "true",
            "introspection.token.claim": "true",
        },
    }


COMMON_MAPPERS = [audience_mapper(a) for a in AUDIENCES] + [
    {
        "name": "groups",
        "protocol": "openid-connect",
        "protocolMapper": "oidc-group-membership-mapper",
        "consentRequired": False,
        "config": {
            "claim.name": "groups",
            "full.path": "true",
            "id.token.claim": "true",
            "access.token.claim": "true",
            "userinfo.token.claim": "true",
            "introspection.token.claim": "true",
        },
    },
    {
        # MinIO reads this claim (MINIO_IDENTITY_OPENID_CLAIM_NAME=policy).
        "name": "minio-policy",
        "protocol": "openid-connect",
        "protocolMapper": "oidc-usermodel-attribute-mapper",
        "consentRequired": False,
        "config": {
            "user.attribute": "policy",
            "claim.name": "policy",
            "jsonType.label": "String",
            "multivalued": "true",
            "aggregate.attrs": "true",
            "id.token.claim": "true",
            "access.token.claim": "true",
            "userinfo.token.claim": "true",
            "introspection.token.claim": "true",
        },
    },
    {
        "name": "realm-roles",
        "protocol": "openid-connect",
        "protocolMapper": "oidc-usermodel-realm-role-mapper",
        "consentRequired": False,
        "config": {
            "claim.name": "roles",
            "jsonType.label": "String",
            "multivalued": "true",
            "id.token.claim": "true",
            "access.token.claim": "true",
            "userinfo.token.claim": "true",
            "introspection.token.claim": "true",
        },
    },
]

LOOPBACK_REDIRECTS = ["http://127.0.0.1/*", "http://localhost/*"]


def user(
    username: str, first: str, last: str, roles: list[str], groups: list[str], policy: list[str]
) -> dict:
    return {
        "username": username,
        "enabled": True,
        "email": f"{username}@example.org",
        "emailVerified": True,
        "firstName": first,
        "lastName": last,
        "attributes": {"policy": policy},
        "credentials": [{"type": "password", "value": PASSWORD, "temporary": False}],
        "requiredActions": [],
        "realmRoles": ["default-roles-aicommons", *roles],
        "groups": groups,
    }


USER_PROFILE = {
    "unmanagedAttributePolicy": "ADMIN_EDIT",
    "attributes": [
        {
            "name": "username",
            "displayName": "${username}",
            "validations": {
                "length": {"min": 3, "max": 255},
                "username-prohibited-characters": {},
                "up-username-not-idn-homograph": {},
            },
            "permissions": {"view": ["admin", "user"], "edit": ["admin", "user"]},
            "multivalued": False,
        },
        {
            "name": "email",
            "displayName": "${email}",
            "validations": {"email": {}, "length": {"max": 255}},
            "required": {"roles": ["user"]},
            "permissions": {"view": ["admin", "user"], "edit": ["admin", "user"]},
            "multivalued": False,
        },
        {
            "name": "firstName",
            "displayName": "${firstName}",
            "validations": {"length": {"max": 255}, "person-name-prohibited-characters": {}},
            "permissions": {"view": ["admin", "user"], "edit": ["admin", "user"]},
            "multivalued": False,
        },
        {
            "name": "lastName",
            "displayName": "${lastName}",
            "validations": {"length": {"max": 255}, "person-name-prohibited-characters": {}},
            "permissions": {"view": ["admin", "user"], "edit": ["admin", "user"]},
            "multivalued": False,
        },
        {
            # MinIO policy names; only administrators see or change them.
            "name": "policy",
            "displayName": "MinIO policy",
            "permissions": {"view": ["admin"], "edit": ["admin"]},
            "multivalued": True,
        },
    ],
    "groups": [],
}

realm = {
    "realm": "aicommons",
    "displayName": "AI Commons (test)",
    "enabled": True,
    "sslRequired": "none",
    "registrationAllowed": False,
    "loginWithEmailAllowed": True,
    "duplicateEmailsAllowed": False,
    "resetPasswordAllowed": False,
    "bruteForceProtected": False,
    "accessTokenLifespan": 900,
    "oauth2DeviceCodeLifespan": 600,
    "oauth2DevicePollingInterval": 1,
    "roles": {
        "realm": [
            {"name": "member", "description": "Member of an organisation"},
            {"name": "steward", "description": "Data steward of an organisation"},
            {"name": "admin", "description": "Platform administrator"},
        ]
    },
    "groups": [
        {
            "name": "orgs",
            "path": "/orgs",
            "subGroups": [
                {"name": "acme", "path": "/orgs/acme", "subGroups": []},
                {"name": "beta", "path": "/orgs/beta", "subGroups": []},
            ],
        }
    ],
    "clients": [
        {
            "clientId": "aicommons-portal",
            "name": "AI Commons portal",
            "enabled": True,
            "protocol": "openid-connect",
            "publicClient": False,
            "clientAuthenticatorType": "client-secret",
            "secret": "aicommons-portal-test-secret",
            "standardFlowEnabled": True,
            "implicitFlowEnabled": False,
            "directAccessGrantsEnabled": True,
            "serviceAccountsEnabled": True,
            "redirectUris": LOOPBACK_REDIRECTS,
            "webOrigins": ["+"],
            "attributes": {
                "pkce.code.challenge.method": "S256",
                "post.logout.redirect.uris": "+",
                "oauth2.device.authorization.grant.enabled": "false",
            },
            "protocolMappers": COMMON_MAPPERS,
        },
        {
            "clientId": "aicommons-cli",
            "name": "AI Commons CLI",
            "enabled": True,
            "protocol": "openid-connect",
            "publicClient": True,
            "standardFlowEnabled": True,
            "directAccessGrantsEnabled": True,
            "redirectUris": LOOPBACK_REDIRECTS,
            # PKCE is not enforced here: RFC 8628 device-code clients do not send a code challenge.
            # Loopback authorization-code logins from the CLI should still send S256
            # (Keycloak checks it when sent).
            "attributes": {
                "oauth2.device.authorization.grant.enabled": "true",
            },
            "protocolMappers": COMMON_MAPPERS,
        },
        {
            # Audience only: tokens for MinIO's STS carry aud=minio.
            "clientId": "minio",
            "name": "MinIO (audience)",
            "enabled": True,
            "publicClient": False,
            "secret": "minio-test-secret",
            "bearerOnly": False,
            "standardFlowEnabled": False,
            "directAccessGrantsEnabled": False,
            "protocol": "openid-connect",
        },
        {
            "clientId": "mlflow",
            "name": "MLflow (audience)",
            "enabled": True,
            "publicClient": False,
            "secret": "mlflow-test-secret",
            "standardFlowEnabled": False,
            "directAccessGrantsEnabled": False,
            "protocol": "openid-connect",
        },
    ],
    "users": [
        user("alice", "Alice", "Member", ["member"], ["/orgs/acme"], ["readwrite"]),
        user("bob", "Bob", "Steward", ["member", "steward"], ["/orgs/acme"], ["readwrite"]),
        user("carol", "Carol", "Member", ["member"], ["/orgs/beta"], ["readwrite"]),
        user("root-admin", "Root", "Admin", ["admin"], [], ["consoleAdmin"]),
        {
            "username": "service-account-aicommons-portal",
            "enabled": True,
            "serviceAccountClientId": "aicommons-portal",
            "realmRoles": ["default-roles-aicommons"],
            "clientRoles": {
                "realm-management": [
                    "manage-users",
                    "view-users",
                    "query-users",
                    "query-groups",
                    "manage-realm",
                    "view-realm",
                    "view-clients",
                    "query-clients",
                ]
            },
        },
    ],
    "components": {
        "org.keycloak.userprofile.UserProfileProvider": [
            {
                "providerId": "declarative-user-profile",
                "subComponents": {},
                "config": {"kc.user.profile.config": [json.dumps(USER_PROFILE)]},
            }
        ]
    },
}

if __name__ == "__main__":
    print(json.dumps(realm, indent=2))
