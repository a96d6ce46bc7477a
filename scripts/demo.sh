#!/usr/bin/env bash
# The Sovereign demo. Part one, on an embedded keystore: a key officer creates
# a region's keystore and key, an application protects the sensitive fields of
# a few user records, the key is rotated, and old ciphertexts still decrypt —
# while a ciphertext moved to another record or tampered with is refused; a
# data pipeline then protects a whole NDJSON export under a field policy.
# Part two: the same keystore served on loopback over mutual TLS; the US
# application reads the records, an offshore engineer sees only ciphertext,
# and the audit log that recorded all of it verifies.
#   scripts/demo.sh            (sets up, builds the CLI, runs the demo)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
cmake -S . -B build -G Ninja -DSOVEREIGN_WERROR=ON >/dev/null
cmake --build build -j "$(nproc)" --target sovereign_cli >/dev/null
sovereign=$PWD/build/tools/sovereign

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SOVEREIGN_KEYSTORE=$work/us
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$sovereign|sovereign|; s|$work|\$DEMO|g"; "$@"; }

step "1. A US key officer creates the region's keystore and a key"
run "$sovereign" keystore init --dir "$SOVEREIGN_KEYSTORE" --region us
ls -l "$SOVEREIGN_KEYSTORE" | sed "s|$work|\$DEMO|g"
run "$sovereign" keys create --key users

# id, email, phone, ssn
records=(
  "u-1001|ann@example.com|+1 555 0100|123-45-6789"
  "u-1002|bob@example.com|+1 555 0101|987-65-4321"
  "u-1003|ann@example.com|+1 555 0199|555-12-3456"
)
encrypt() { # mode label path record-id value
  printf '%s' "$5" | "$sovereign" field encrypt --key users --mode "$1" --label "$2" --path "$3" --record-id "$4"
}
encrypt_email() { printf '%s' "$1" | "$sovereign" field encrypt --key users --mode deterministic --label email --path /email; }

step "2. The application encrypts each sensitive field before storing the record"
echo "   email: deterministic (joinable), phone and ssn: random and bound to the record id"
declare -A stored
for r in "${records[@]}"; do
  IFS='|' read -r id email phone ssn <<<"$r"
  stored[$id,email]=$(encrypt_email "$email")
  stored[$id,phone]=$(encrypt random phone /phone "$id" "$phone")
  stored[$id,ssn]=$(encrypt random ssn /ssn "$id" "$ssn")
  printf '{"id":"%s","email":"%s","phone":"%s","ssn":"%s"}\n' "$id" "${stored[$id,email]}" "${stored[$id,phone]}" \
    "${stored[$id,ssn]}"
done

step "3. What anyone reading the database sees: equal emails join, nothing else leaks"
[[ ${stored[u-1001,email]} == "${stored[u-1003,email]}" ]] && echo "u-1001 and u-1003 share an email ciphertext (same user email)"
printf 'blind index of " Ann@Example.com " (trim-casefold, 32 bits): '
printf ' Ann@Example.com ' | "$sovereign" field index --key users --label email --bits 32

step "4. The US application decrypts"
for id in u-1001 u-1002; do
  printf '%s: email=%s phone=%s ssn=%s\n' "$id" \
    "$(printf '%s' "${stored[$id,email]}" | "$sovereign" field decrypt --path /email)" \
    "$(printf '%s' "${stored[$id,phone]}" | "$sovereign" field decrypt --path /phone --record-id "$id")" \
    "$(printf '%s' "${stored[$id,ssn]}" | "$sovereign" field decrypt --path /ssn --record-id "$id")"
done

step "5. The key officer rotates the key; old ciphertexts still decrypt, new ones use version 2"
run "$sovereign" keys rotate --key users
run "$sovereign" keys list
new_ssn=$(encrypt random ssn /ssn u-1001 "123-45-6789")
printf 'old ssn ciphertext (v1) -> %s\n' "$(printf '%s' "${stored[u-1001,ssn]}" | "$sovereign" field decrypt --path /ssn --record-id u-1001)"
printf 'new ssn ciphertext (v2) -> %s\n' "$(printf '%s' "$new_ssn" | "$sovereign" field decrypt --path /ssn --record-id u-1001)"

step "6. Tampering is always detected"
set +e
printf 'u-1001 ssn presented as u-1002 ssn: '
printf '%s' "${stored[u-1001,ssn]}" | "$sovereign" field decrypt --path /ssn --record-id u-1002
echo "(exit code $?)"
printf 'u-1001 phone presented as its ssn:   '
printf '%s' "${stored[u-1001,phone]}" | "$sovereign" field decrypt --path /ssn --record-id u-1001
echo "(exit code $?)"
tampered=${stored[u-1002,phone]}
tampered="${tampered:0:20}$([[ ${tampered:20:1} == A ]] && echo B || echo A)${tampered:21}"
printf 'one character changed:               '
printf '%s' "$tampered" | "$sovereign" field decrypt --path /phone --record-id u-1002
echo "(exit code $?)"
set -e

step "7. A data pipeline protects every sensitive field of an NDJSON export under a field policy"
cat > "$work/users.ndjson" <<'NDJSON'
{"id":"u-1001","name":"Ann","email":"ann@example.com","ssn":"123-45-6789","address":{"city":"Austin","zip":"78701"},"plan":"pro"}
{"id":"u-1002","name":"Bob","email":"bob@example.com","ssn":"987-65-4321","address":{"city":"Boston","zip":"02108"},"plan":"free"}
NDJSON
cat > "$work/users.policy.json" <<POLICY
{
  "keystores": {"us": {"dir": "$SOVEREIGN_KEYSTORE"}},
  "region": "us",
  "record_id": "/id",
  "fields": [
    {"path": "/email", "key": "users", "mode": "deterministic", "index": {"path": "/email_index", "bits": 32}},
    {"path": "/ssn", "key": "users"},
    {"path": "/address/*", "key": "users", "label": "address"}
  ]
}
POLICY
run "$sovereign" encrypt --policy "$work/users.policy.json" --in "$work/users.ndjson" --out "$work/users.enc.ndjson"
cut -c1-230 "$work/users.enc.ndjson" | sed 's/$/…/'
run "$sovereign" decrypt --policy "$work/users.policy.json" --in "$work/users.enc.ndjson"

step "8. The right to erasure: each user's fields under the user's own key; shredding one erases them everywhere"
cat > "$work/users.subject.policy.json" <<POLICY
{
  "keystores": {"us": {"dir": "$SOVEREIGN_KEYSTORE"}},
  "region": "us",
  "record_id": "/id",
  "fields": [
    {"path": "/email", "key": "users", "subject": "/id"},
    {"path": "/ssn", "key": "users", "subject": "/id"},
    {"path": "/address/*", "key": "users", "label": "address", "subject": "/id"}
  ]
}
POLICY
run "$sovereign" encrypt --policy "$work/users.subject.policy.json" --in "$work/users.ndjson" --out "$work/users.subj.ndjson"
run "$sovereign" subjects shred --key users --subject u-1002 --reason "erasure request 4521"
echo "u-1002's fields are now unrecoverable wherever copies of them live; u-1001 is untouched:"
run "$sovereign" decrypt --policy "$work/users.subject.policy.json" --in "$work/users.subj.ndjson" --on-denied redact

step "9. Every key use and change is in the hash-chained, MAC'd audit log"
tail -n 3 "$SOVEREIGN_KEYSTORE/audit.log" | cut -c1-160 | sed 's/$/…/'

step "10. The keystore as a regional service: a PKI with SPIFFE identities, mTLS on loopback"
pki=$work/pki
mkdir -p "$pki"
(
  umask 077
  cd "$pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 1 \
    -subj "/CN=Sovereign demo CA" 2>/dev/null
  issue() { # name subject subjectAltName
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
    printf 'subjectAltName=%s\n' "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile "$1.ext" \
      -out "$1.pem" 2>/dev/null
  }
  issue server "/CN=localhost" "DNS:localhost,IP:127.0.0.1"
  issue us-app "/CN=us-app" "URI:spiffe://corp.example/region/us/svc/app"
  issue cn-alice "/CN=alice" "URI:spiffe://corp.example/region/cn/eng/alice"
)
echo "CA, server certificate, and client certificates for:"
echo "  spiffe://corp.example/region/us/svc/app    (US application: lease, encrypt, deterministic, index, decrypt)"
echo "  spiffe://corp.example/region/cn/eng/alice  (offshore engineer: random-mode encrypt only)"
cat >"$work/keystore.json" <<JSON
{
  "region": "us",
  "listen": "127.0.0.1:0",
  "store": {"dir": "$SOVEREIGN_KEYSTORE"},
  "tls": {"cert": "$pki/server.pem", "key": "$pki/server.key", "client_ca": "$pki/ca.pem"},
  "lease_ttl_seconds": 300,
  "access": [
    {"principal": "spiffe://corp.example/region/us/svc/*", "allow": ["lease", "encrypt", "deterministic", "index", "decrypt"], "keys": ["users"], "labels": ["*"]},
    {"principal": "spiffe://corp.example/region/cn/*", "allow": ["encrypt"], "keys": ["users"], "labels": ["email", "phone", "ssn", "address"]}
  ]
}
JSON
"$sovereign" serve --config "$work/keystore.json" >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true; wait $serve_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/serve.out")
[[ -n $url ]] || { cat "$work/serve.err"; exit 1; }
echo "sovereign serve: listening on $url"
as() { # who, then a sovereign command
  local who=$1
  shift
  SOVEREIGN_KEYSTORE=$url SOVEREIGN_TLS_CERT=$pki/$who.pem SOVEREIGN_TLS_KEY=$pki/$who.key SOVEREIGN_TLS_CA=$pki/ca.pem \
    "$sovereign" "$@"
}

step "11. The US application reads the records through the keystore service"
for id in u-1001 u-1002; do
  printf '%s: ssn=%s\n' "$id" \
    "$(printf '%s' "${stored[$id,ssn]}" | as us-app field decrypt --path /ssn --record-id "$id")"
done

step "12. The offshore engineer sees only ciphertext, cannot test guesses, and may still add data"
for id in u-1001 u-1002; do
  printf '%s: ssn (keep)   = %s\n' "$id" \
    "$(printf '%s' "${stored[$id,ssn]}" | as cn-alice field decrypt --path /ssn --record-id "$id" --on-denied keep | cut -c1-40)…"
  printf '%s: ssn (redact) = %s\n' "$id" \
    "$(printf '%s' "${stored[$id,ssn]}" | as cn-alice field decrypt --path /ssn --record-id "$id" --on-denied redact)"
done
set +e
printf 'default (--on-denied fail): '
printf '%s' "${stored[u-1001,ssn]}" | as cn-alice field decrypt --path /ssn --record-id u-1001
echo "(exit code $?)"
set -e
# A deterministic ciphertext or a blind index of a chosen value would let her test
# guesses against stored data (an equality oracle): separate permissions she lacks.
set +e
printf 'deterministic encryption of a guess: '
printf 'ann@example.com' | as cn-alice field encrypt --key users --label email --path /email --record-id u-1001 \
  --mode deterministic 2>&1
echo "(exit code $?)"
printf 'blind index of a guess:              '
printf 'ann@example.com' | as cn-alice field index --key users --label email 2>&1
echo "(exit code $?)"
set -e
new_phone=$(printf '+1 555 0142' | as cn-alice field encrypt --key users --label phone --path /phone --record-id u-1004)
echo "alice encrypted a new phone number (remotely; no key reached her): ${new_phone:0:40}…"
printf 'and the US application reads it: %s\n' \
  "$(printf '%s' "$new_phone" | as us-app field decrypt --path /phone --record-id u-1004)"

step "13. Every lease, remote operation and denial was audited; the log verifies"
grep -c '"outcome":"denied"' "$SOVEREIGN_KEYSTORE/audit.log" | sed 's/^/denied requests recorded: /'
kill $serve_pid
wait $serve_pid 2>/dev/null || true
run "$sovereign" audit verify --keystore "$SOVEREIGN_KEYSTORE"
echo
echo "demo complete."
