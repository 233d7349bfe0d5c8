"""Test vectors of PROVIDER.md and the seed page, and the secrets the tests use."""

HASH_SECRET = "SECRET"
HASH_SIGNATURE = "B1C777835C01CA96AC4C3097FD46A7CA49B92BE157EDE0CB3552880D12A15359"
HASH_FIELDS = {
    "created_at": "2019-04-04T12:20:34.97138Z",
    "error": "",
    "id": "test-valid",
    "reference": "PLEDG_1086986786391",
    "sandbox": "true",
    "status": "completed",
}
HASH_NOTIFICATION = {**HASH_FIELDS, "signature": HASH_SIGNATURE}

JWT_SECRET = "your-256-bit-secret"
JWT_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJyZWZlcmVuY2UiOiJwdXJjaGFzZV9yZWZlcmVuY2UiLCJjcmVhdGVkIjoiMjAyMC0wOS0xNyAxNTowMDowMi4w"
    "NTIxNzciLCJ0cmFuc2Zlcl9vcmRlcl9pdGVtX3VpZCI6InRyaV9mYXNka2ZpYXNmc2QyMzRuZnM3ZjVkIiwiYW1v"
    "dW50X2NlbnRzIjoxMDAwMH0"
    ".6ZhlvdcPgjwwBfxCrRpzaBGoRxTCoqtWJzFhB8pw4Ys"
)
JWT_PAYLOAD = {
    "reference": "purchase_reference",
    "created": "2020-09-17 15:00:02.052177",
    "transfer_order_item_uid": "tri_fasdkfiasfsd234nfs7f5d",
    "amount_cents": 10000,
}

BASIC_USERNAME = "random@domain.com"
BASIC_PASSWORD = "john123"
BASIC_HEADER = "Basic cmFuZG9tQGRvbWFpbi5jb206am9objEyMw=="

# Long enough (>= 32 bytes) that PyJWT does not warn about the HMAC key length,
# and distinctive enough to be searched for in logs and messages.
SIGNATURE_SECRET = "sig-secret-0123456789-abcdefghijklmnop"
OTHER_SECRET = "another-secret-0123456789-abcdefghijklm"
