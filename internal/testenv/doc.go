// Package testenv gives tests the servers that scripts/test starts: a MinIO
// with admin credentials, a PostgreSQL with a superuser (and a browser).
//
// Tests call MinIO(t) and get a fresh bucket per test with NewBucket;
// Postgres(t) and a fresh database per test with NewDatabase (roles with
// NewRole, psql with Psql); a test that stops and starts its server gets
// one of its own with NewCluster. When a
// server's variables are missing, as under a plain `go test`, the test is
// skipped with a message naming scripts/test; with CI=true it fails
// instead, so a misconfigured CI run can never pass by skipping.
package testenv
