package scripts_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"comanda/internal/testkit"
	"comanda/migrations"
	"comanda/pglocal"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// scriptTimeout bounds one run of a script.
const scriptTimeout = 3 * time.Minute

// scriptEnvPrefixes are the variables of the test's own environment that could change what a
// script does; they are removed before the test sets its own.
var scriptEnvPrefixes = []string{
	"DATABASE_URL=", "UPLOADS_DIR=", "BACKUP_", "RESTORE_", "S3_", "AWS_ACCESS_KEY_ID=",
	"AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "SLACK_WEBHOOK_URL=", "SMTP_", "PG",
}

// result is the outcome of one run of a script.
type result struct {
	output string
	code   int
}

// runScript runs a script of this folder with bash, in a temporary working directory, with
// env added to a cleaned copy of the test's environment.
func runScript(t *testing.T, env map[string]string, script string, args ...string) result {
	t.Helper()
	testkit.RequireTool(t, "bash")
	scriptPath, err := filepath.Abs(script)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{scriptPath}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = scriptEnv(t, env)
	out, err := cmd.CombinedOutput()

	var exitErr *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		require.NoError(t, err, "run %s", script)
	}
	t.Logf("%s %s: exit %d\n%s", script, strings.Join(args, " "), code, out)
	return result{output: string(out), code: code}
}

// mustRun runs a script and requires it to succeed.
func mustRun(t *testing.T, env map[string]string, script string, args ...string) string {
	t.Helper()
	res := runScript(t, env, script, args...)
	require.Zero(t, res.code, "%s %v failed:\n%s", script, args, res.output)
	return res.output
}

// scriptEnv builds a script's environment, with the PostgreSQL programs on PATH.
func scriptEnv(t *testing.T, env map[string]string) []string {
	t.Helper()
	var out []string
	path := os.Getenv("PATH")
	for _, kv := range os.Environ() {
		keep := !strings.HasPrefix(kv, "PATH=")
		for _, prefix := range scriptEnvPrefixes {
			if strings.HasPrefix(kv, prefix) {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	if binDir, err := pglocal.FindBinaries(""); err == nil {
		path += string(os.PathListSeparator) + binDir
	}
	out = append(out, "PATH="+path)
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// withEnv returns a copy of base with extra added.
func withEnv(base map[string]string, extra map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(extra))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// connect opens a connection that the test closes when it ends.
func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// prepareReadModel registers a read table, order_summaries, in projection_tables.
func prepareReadModel(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	_, err := conn.Exec(t.Context(), `
		CREATE TABLE IF NOT EXISTS projection_tables (
		    projection text NOT NULL,
		    table_name text NOT NULL,
		    PRIMARY KEY (projection, table_name)
		);
		CREATE TABLE order_summaries (
		    order_id text   NOT NULL PRIMARY KEY,
		    status   text   NOT NULL,
		    version  bigint NOT NULL
		);
		INSERT INTO projection_tables (projection, table_name) VALUES ('orders', 'order_summaries');`)
	require.NoError(t, err)
}

// execer is a connection or a transaction.
type execer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// appendEvent appends the first event of a stream, leaving transaction_id to its default,
// and returns its global position.
func appendEvent(t *testing.T, db execer, streamID string) int64 {
	t.Helper()
	var position int64
	err := db.QueryRow(t.Context(), `
		INSERT INTO events (event_id, stream_id, stream_type, stream_version, event_type,
		                    payload, metadata)
		VALUES (gen_random_uuid(), $1, 'order', 1, 'OrderPlaced',
		        jsonb_build_object('order_id', $1::text, 'total', 2500), '{"actor": "test"}')
		RETURNING global_position`, streamID).Scan(&position)
	require.NoError(t, err)
	return position
}

// project records the read model's row for a stream, as the orders projector would.
func project(t *testing.T, conn *pgx.Conn, streamID string) {
	t.Helper()
	_, err := conn.Exec(t.Context(),
		"INSERT INTO order_summaries (order_id, status, version) VALUES ($1, 'placed', 1)", streamID)
	require.NoError(t, err)
}

// checkpoint stores the consumer group's offset at the event at position.
func checkpoint(t *testing.T, conn *pgx.Conn, group string, position int64) {
	t.Helper()
	_, err := conn.Exec(t.Context(), `
		INSERT INTO projection_offsets (consumer_group, offset_acked, last_processed_transaction_id)
		SELECT $1, global_position, transaction_id FROM events WHERE global_position = $2
		ON CONFLICT (consumer_group) DO UPDATE
		SET offset_acked = excluded.offset_acked,
		    last_processed_transaction_id = excluded.last_processed_transaction_id`,
		group, position)
	require.NoError(t, err)
}

// eventsSnapshot returns every event, without its transaction id, as JSON in log order.
func eventsSnapshot(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var snapshot *string
	err := conn.QueryRow(t.Context(), `
		SELECT json_agg(json_build_array(global_position, event_id, stream_id, stream_type,
		                stream_version, event_type, schema_version, payload, metadata,
		                extract(epoch FROM recorded_at)) ORDER BY global_position)::text
		FROM events`).Scan(&snapshot)
	require.NoError(t, err)
	if snapshot == nil {
		return "[]"
	}
	return *snapshot
}

// readModelSnapshot returns the rows of order_summaries as JSON.
func readModelSnapshot(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var snapshot *string
	err := conn.QueryRow(t.Context(), `
		SELECT json_agg(s ORDER BY order_id)::text FROM order_summaries AS s`).Scan(&snapshot)
	require.NoError(t, err)
	if snapshot == nil {
		return "[]"
	}
	return *snapshot
}

// countRows counts the rows of a table.
func countRows(t *testing.T, conn *pgx.Conn, table string) int {
	t.Helper()
	var n int
	err := conn.QueryRow(t.Context(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).
		Scan(&n)
	require.NoError(t, err)
	return n
}

// projectorQuery is the projectors' read: the events after a checkpoint whose transactions
// are older than every running one, in (transaction id, position) order.
const projectorQuery = `
	SELECT global_position
	FROM events
	WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
	  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
	ORDER BY transaction_id, global_position`

// projectorSees returns the positions a projector with the given checkpoint reads next.
func projectorSees(t *testing.T, conn *pgx.Conn, txid string, offset int64) []int64 {
	t.Helper()
	rows, err := conn.Query(t.Context(), projectorQuery, txid, offset)
	require.NoError(t, err)
	positions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	return positions
}

// groupCheckpoint reads a consumer group's checkpoint.
func groupCheckpoint(t *testing.T, conn *pgx.Conn, group string) (string, int64) {
	t.Helper()
	var txid string
	var offset int64
	err := conn.QueryRow(t.Context(), `
		SELECT last_processed_transaction_id::text, offset_acked
		FROM projection_offsets WHERE consumer_group = $1`, group).Scan(&txid, &offset)
	require.NoError(t, err)
	return txid, offset
}

// eventuallySees waits until the projector with the checkpoint reads exactly want: a
// transaction that has just committed can briefly stay below a concurrent snapshot's xmin.
func eventuallySees(t *testing.T, conn *pgx.Conn, txid string, offset int64, want []int64) {
	t.Helper()
	var got []int64
	for range 50 {
		got = projectorSees(t, conn, txid, offset)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.Equal(t, want, got, "positions the projector reads after (%s, %d)", txid, offset)
}

// privateDir makes a temporary folder that the postgres system user can reach, for a server
// run as that user when the tests run as root.
func privateDir(t *testing.T, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", pattern)
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o711))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// startCluster starts a throwaway PostgreSQL server of the test's own, separate from the
// shared one, that holds only the database named. A non-zero epoch is set with pg_resetwal
// before the server takes any data, so that its transaction ids, as xid8, start at
// epoch<<32: the ids of a cluster that has lived long.
func startCluster(t *testing.T, database string, epoch uint32) *pglocal.Server {
	t.Helper()
	testkit.RequireTool(t, "initdb")
	testkit.RequireTool(t, "postgres")
	ctx := t.Context()
	cfg := pglocal.Config{
		DataDir:   filepath.Join(privateDir(t, "comanda-scripts-pg-"), "data"),
		Throwaway: true,
		Database:  database,
	}
	server, err := pglocal.Start(ctx, cfg)
	require.NoError(t, err)

	if epoch > 0 {
		require.NoError(t, server.Stop(ctx))
		resetwal := testkit.RequireTool(t, "pg_resetwal")
		args := []string{resetwal, "--epoch", strconv.FormatUint(uint64(epoch), 10), "-D", cfg.DataDir}
		if os.Geteuid() == 0 {
			runuser := testkit.RequireTool(t, "runuser")
			args = append([]string{runuser, "-u", "postgres", "--"}, args...)
		}
		out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
		require.NoError(t, err, "pg_resetwal: %s", out)
		server, err = pglocal.Start(ctx, cfg)
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = server.Stop(stopCtx)
	})
	return server
}

// fileState is what a test compares of an uploaded file.
type fileState struct {
	mode fs.FileMode
	hash string
}

// writeUploads fills dir with a few files in nested folders.
func writeUploads(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"receipts/2026/12/order-1.pdf": "%PDF-1.7 receipt of order 1\x00\x01\x02",
		"receipts/2026/12/order-2.pdf": "%PDF-1.7 receipt of order 2",
		"logos/business-7.png":         "\x89PNG\r\n\x1a\n not really a picture",
		"name with spaces.txt":         "spaces survive",
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	}
	require.NoError(t, os.Chmod(filepath.Join(dir, "logos/business-7.png"), 0o600))
}

// uploadsSnapshot describes every file and folder under dir.
func uploadsSnapshot(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		state := fileState{mode: info.Mode()}
		if d.Type().IsRegular() {
			content, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(content)
			state.hash = hex.EncodeToString(sum[:])
		}
		out[rel] = state
		return nil
	})
	require.NoError(t, err)
	return out
}

// newestBackup returns the newest backup file of a kind ("db" or "uploads") in dir.
func newestBackup(t *testing.T, dir, kind string) string {
	t.Helper()
	pattern := "comanda-db-*.dump"
	if kind == "uploads" {
		pattern = "comanda-uploads-*.tar.gz"
	}
	matches, err := filepath.Glob(filepath.Join(dir, pattern))
	require.NoError(t, err)
	require.NotEmpty(t, matches, "no %s backup in %s", kind, dir)
	newest := matches[0]
	for _, m := range matches[1:] {
		if m > newest { // the stamp sorts as text
			newest = m
		}
	}
	return newest
}

// flipByte corrupts a file by inverting one byte in its middle.
func flipByte(t *testing.T, path string) {
	t.Helper()
	content, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NotEmpty(t, content)
	content[len(content)/2] ^= 0xff
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, content, info.Mode()))
}

// safetyBackupPattern finds the paths restore.sh prints for its safety backups.
var safetyBackupPattern = regexp.MustCompile(`safety backup: (\S+)`)

func TestRestore_IntoAFreshClusterKeepsDataAndProjectorsSeeNewEvents(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	// The source cluster has lived long: its transaction ids are far ahead of a new one's.
	source := startCluster(t, "comanda", 3)
	_, err := migrations.Up(ctx, source.URL())
	require.NoError(t, err)
	src := connect(t, source.URL())
	prepareReadModel(t, src)

	var positions []int64
	for i := range 5 {
		stream := fmt.Sprintf("order-%d", i)
		positions = append(positions, appendEvent(t, src, stream))
		project(t, src, stream)
	}

	// Two transactions commit out of position order: the one with the older transaction id
	// writes the later position. Projectors read (transaction id, position) order, so the
	// older one's event comes first, and the checkpoint below covers it but not the other.
	older, err := src.Begin(ctx)
	require.NoError(t, err)
	_, err = older.Exec(ctx, "SELECT pg_current_xact_id()")
	require.NoError(t, err)
	other := connect(t, source.URL())
	lowPosition := appendEvent(t, other, "order-committed-second-in-id-order")
	highPosition := appendEvent(t, older, "order-committed-first-in-id-order")
	require.NoError(t, older.Commit(ctx))
	require.Less(t, lowPosition, highPosition)
	project(t, src, "order-committed-first-in-id-order")
	checkpoint(t, src, "orders", highPosition)
	txid, offset := groupCheckpoint(t, src, "orders")
	eventuallySees(t, src, txid, offset, []int64{lowPosition})

	var sourceMaxTxid int64
	require.NoError(t, src.QueryRow(ctx,
		"SELECT max(transaction_id)::text::bigint FROM events").Scan(&sourceMaxTxid))
	wantEvents := eventsSnapshot(t, src)
	wantReadModel := readModelSnapshot(t, src)

	work := t.TempDir()
	uploads := filepath.Join(work, "uploads")
	writeUploads(t, uploads)
	wantUploads := uploadsSnapshot(t, uploads)
	backups := filepath.Join(work, "backups")
	mustRun(t, map[string]string{"DATABASE_URL": source.URL(), "UPLOADS_DIR": uploads},
		"backup.sh", "--dest", backups, "--verify-restore")

	// Lose everything: the source server and the uploads.
	require.NoError(t, src.Close(ctx))
	require.NoError(t, other.Close(ctx))
	require.NoError(t, source.Stop(ctx))
	require.NoError(t, os.RemoveAll(uploads))

	target := startCluster(t, "postgres", 0)
	admin := connect(t, target.URL())
	var targetTxid int64
	require.NoError(t, admin.QueryRow(ctx,
		"SELECT pg_current_xact_id()::text::bigint").Scan(&targetTxid))
	require.Greater(t, sourceMaxTxid, targetTxid+1_000_000,
		"the restored ids must be ahead of the new cluster's counter for this test to mean anything")

	targetURL := target.AdminURL("comanda")
	out := mustRun(t, map[string]string{
		"DATABASE_URL":       targetURL,
		"UPLOADS_DIR":        uploads,
		"RESTORE_SAFETY_DIR": filepath.Join(work, "safety"),
	}, "restore.sh", newestBackup(t, backups, "db"))
	require.NotContains(t, out, "safety backup:", "there was nothing to save")

	dst := connect(t, targetURL)
	require.Equal(t, wantEvents, eventsSnapshot(t, dst))
	require.Equal(t, wantReadModel, readModelSnapshot(t, dst))
	require.Equal(t, wantUploads, uploadsSnapshot(t, uploads))

	newPosition := appendEvent(t, dst, "order-after-restore")
	require.Greater(t, newPosition, highPosition)

	// The projector misses nothing it had not processed: the event that committed second in
	// id order comes again first, the one it had processed is seen again after it, then the
	// new event.
	txid, offset = groupCheckpoint(t, dst, "orders")
	eventuallySees(t, dst, txid, offset, []int64{lowPosition, highPosition, newPosition})
	// A projector starting from scratch reads the whole log in order, the new event last.
	eventuallySees(t, dst, "0", 0, append(append([]int64{}, positions...),
		lowPosition, highPosition, newPosition))
}

// uriForm rewrites a keyword/value connection string as a postgresql:// URI.
func uriForm(t *testing.T, conninfo string) string {
	t.Helper()
	cfg, err := pgconn.ParseConfig(conninfo)
	require.NoError(t, err)
	query := neturl.Values{
		"host":    {cfg.Host},
		"port":    {strconv.Itoa(int(cfg.Port))},
		"user":    {cfg.User},
		"sslmode": {"disable"},
	}
	return "postgresql:///" + neturl.PathEscape(cfg.Database) + "?" + query.Encode()
}

func TestRestore_RefusesADatabaseWithEventsUnlessForcedAndKeepsASafetyBackup(t *testing.T) {
	t.Parallel()
	_, conninfo := testkit.NewDatabase(t)
	url := uriForm(t, conninfo) // the scripts take URIs as well as keyword/value strings
	conn := connect(t, url)
	for i := range 3 {
		appendEvent(t, conn, fmt.Sprintf("order-%d", i))
	}
	work := t.TempDir()
	backups := filepath.Join(work, "backups")
	env := map[string]string{
		"DATABASE_URL":       url,
		"RESTORE_SAFETY_DIR": filepath.Join(work, "safety"),
	}
	mustRun(t, env, "backup.sh", "--db-only", "--verify-restore", "--dest", backups)
	dump := newestBackup(t, backups, "db")
	appendEvent(t, conn, "order-written-after-the-backup")
	require.NoError(t, conn.Close(t.Context()))

	refused := runScript(t, env, "restore.sh", "--db-only", dump)
	require.Equal(t, 1, refused.code)
	require.Contains(t, refused.output, "--force")
	conn = connect(t, url)
	require.Equal(t, 4, countRows(t, conn, "events"), "a refused restore changes nothing")
	require.NoError(t, conn.Close(t.Context()))

	out := mustRun(t, env, "restore.sh", "--db-only", "--force", dump)
	conn = connect(t, url)
	require.Equal(t, 3, countRows(t, conn, "events"))

	matches := safetyBackupPattern.FindAllStringSubmatch(out, -1)
	require.Len(t, matches, 1, "one safety backup, of the database")
	safety := matches[0][1]
	require.FileExists(t, safety)
	require.FileExists(t, safety+".sha256")
	listed, err := exec.Command(testkit.RequireTool(t, "pg_restore"),
		"--data-only", "--table=events", "--file=-", safety).CombinedOutput()
	require.NoError(t, err, "%s", listed)
	require.Contains(t, string(listed), "order-written-after-the-backup",
		"the safety backup holds what the restore replaced")
}

func TestRestore_EventsOnlyReplacesEventsAndRebuildsEveryProjection(t *testing.T) {
	t.Parallel()
	_, url := testkit.NewDatabase(t)
	conn := connect(t, url)
	prepareReadModel(t, conn)
	var positions []int64
	for i := range 3 {
		stream := fmt.Sprintf("order-%d", i)
		positions = append(positions, appendEvent(t, conn, stream))
		project(t, conn, stream)
	}
	checkpoint(t, conn, "orders", positions[2])

	work := t.TempDir()
	backups := filepath.Join(work, "backups")
	env := map[string]string{"DATABASE_URL": url, "RESTORE_SAFETY_DIR": filepath.Join(work, "safety")}
	mustRun(t, env, "backup.sh", "--db-only", "--dest", backups)
	wantEvents := eventsSnapshot(t, conn)

	// The database moves on after the backup.
	later := appendEvent(t, conn, "order-after-backup")
	project(t, conn, "order-after-backup")
	checkpoint(t, conn, "orders", later)

	refused := runScript(t, env, "restore.sh", "--events-only", newestBackup(t, backups, "db"))
	require.Equal(t, 1, refused.code)
	require.Contains(t, refused.output, "--force")

	out := mustRun(t, env, "restore.sh", "--events-only", "--force", newestBackup(t, backups, "db"))
	require.Len(t, safetyBackupPattern.FindAllStringSubmatch(out, -1), 1)

	require.Equal(t, wantEvents, eventsSnapshot(t, conn))
	require.Zero(t, countRows(t, conn, "order_summaries"), "read tables are emptied")
	require.Zero(t, countRows(t, conn, "projection_offsets"), "checkpoints are forgotten")
	require.Equal(t, 1, countRows(t, conn, "projection_tables"), "the list of read tables stays")

	newPosition := appendEvent(t, conn, "order-after-restore")
	require.Greater(t, newPosition, later, "positions are never reused")
	eventuallySees(t, conn, "0", 0, append(positions, newPosition))
}

func TestRestore_RefusesACorruptedBackup(t *testing.T) {
	t.Parallel()
	_, url := testkit.NewDatabase(t)
	conn := connect(t, url)
	appendEvent(t, conn, "order-1")

	work := t.TempDir()
	uploads := filepath.Join(work, "uploads")
	writeUploads(t, uploads)
	backups := filepath.Join(work, "backups")
	safety := filepath.Join(work, "safety")
	env := map[string]string{"DATABASE_URL": url, "UPLOADS_DIR": uploads, "RESTORE_SAFETY_DIR": safety}
	mustRun(t, env, "backup.sh", "--dest", backups)
	dump := newestBackup(t, backups, "db")
	archive := newestBackup(t, backups, "uploads")
	appendEvent(t, conn, "order-2")

	flipByte(t, dump)
	res := runScript(t, env, "restore.sh", "--force", dump)
	require.Equal(t, 1, res.code)
	require.Contains(t, res.output, "checksum mismatch")
	require.Equal(t, 2, countRows(t, conn, "events"), "nothing was restored")
	entries, _ := os.ReadDir(safety)
	for _, e := range entries {
		require.NotContains(t, e.Name(), "comanda-", "no safety backup before the checks pass")
	}

	flipByte(t, archive)
	res = runScript(t, env, "restore.sh", "--files-only", "--force", archive)
	require.Equal(t, 1, res.code)
	require.Contains(t, res.output, "checksum mismatch")

	require.NoError(t, os.Remove(archive+".sha256"))
	res = runScript(t, env, "restore.sh", "--files-only", "--force", archive)
	require.Equal(t, 1, res.code)
	require.Contains(t, res.output, "no checksum file")
}

// writeFakeBackup writes a backup file with its checksum, both modified age ago.
func writeFakeBackup(t *testing.T, dir, name string, age time.Duration) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	path := filepath.Join(dir, name)
	content := []byte("backup " + name)
	require.NoError(t, os.WriteFile(path, content, 0o600))
	sum := sha256.Sum256(content)
	require.NoError(t, os.WriteFile(path+".sha256",
		[]byte(hex.EncodeToString(sum[:])+"  "+name+"\n"), 0o600))
	backdate(t, age, path, path+".sha256")
	return path
}

// backdate sets the modification time of files to age ago, with touch -d.
func backdate(t *testing.T, age time.Duration, paths ...string) {
	t.Helper()
	when := "@" + strconv.FormatInt(time.Now().Add(-age).Unix(), 10)
	out, err := exec.Command(testkit.RequireTool(t, "touch"), append([]string{"-d", when}, paths...)...).
		CombinedOutput()
	require.NoError(t, err, "touch: %s", out)
}

const day = 24 * time.Hour

func TestBackup_RetentionDeletesOldBackupsAndKeepsTheNewest(t *testing.T) {
	t.Parallel()
	_, url := testkit.NewDatabase(t)
	work := t.TempDir()
	uploads := filepath.Join(work, "uploads")
	writeUploads(t, uploads)
	env := map[string]string{"DATABASE_URL": url, "UPLOADS_DIR": uploads}

	t.Run("old backups go, recent ones stay", func(t *testing.T) {
		dest := filepath.Join(work, "mixed")
		oldDB := writeFakeBackup(t, dest, "comanda-db-20261101T020000Z.dump", 10*day)
		oldFiles := writeFakeBackup(t, dest, "comanda-uploads-20261101T020000Z.tar.gz", 10*day)
		recentDB := writeFakeBackup(t, dest, "comanda-db-20261130T020000Z.dump", 2*day)
		unrelated := writeFakeBackup(t, dest, "notes.txt", 30*day)

		mustRun(t, env, "backup.sh", "--dest", dest, "--retention-days", "7")

		require.NoFileExists(t, oldDB)
		require.NoFileExists(t, oldDB+".sha256")
		require.NoFileExists(t, oldFiles)
		require.NoFileExists(t, oldFiles+".sha256")
		require.FileExists(t, recentDB)
		require.FileExists(t, unrelated, "only backup files are deleted")
		require.NotEqual(t, recentDB, newestBackup(t, dest, "db"), "a new backup was made")
	})

	t.Run("the newest backup of a kind stays however old", func(t *testing.T) {
		dest := filepath.Join(work, "old-only")
		oldest := writeFakeBackup(t, dest, "comanda-db-20261001T020000Z.dump", 60*day)
		newest := writeFakeBackup(t, dest, "comanda-db-20261101T020000Z.dump", 30*day)

		mustRun(t, env, "backup.sh", "--files-only", "--dest", dest, "--retention-days", "7")

		require.NoFileExists(t, oldest)
		require.FileExists(t, newest)
		require.FileExists(t, newest+".sha256")
	})

	t.Run("nothing runs while another backup holds the lock", func(t *testing.T) {
		dest := filepath.Join(work, "locked")
		old := writeFakeBackup(t, dest, "comanda-db-20261001T020000Z.dump", 60*day)
		writeFakeBackup(t, dest, "comanda-db-20261101T020000Z.dump", 30*day)
		lock, err := os.OpenFile(filepath.Join(dest, ".backup.lock"), os.O_CREATE|os.O_RDWR, 0o600)
		require.NoError(t, err)
		defer lock.Close()
		require.NoError(t, syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB))

		res := runScript(t, env, "backup.sh", "--dest", dest, "--retention-days", "7")

		require.Equal(t, 1, res.code)
		require.Contains(t, res.output, "another backup is running")
		require.Contains(t, res.output, "failed at step 'lock'")
		require.FileExists(t, old, "retention did not run")
		matches, err := filepath.Glob(filepath.Join(dest, "comanda-uploads-*"))
		require.NoError(t, err)
		require.Empty(t, matches, "no backup was made")
	})
}

func TestBackup_DryRunChangesNothing(t *testing.T) {
	t.Parallel()
	_, url := testkit.NewDatabase(t)
	work := t.TempDir()
	uploads := filepath.Join(work, "uploads")
	writeUploads(t, uploads)
	dest := filepath.Join(work, "backups")

	out := mustRun(t, map[string]string{"DATABASE_URL": url, "UPLOADS_DIR": uploads},
		"backup.sh", "--dest", dest, "--dry-run", "--verify-restore")

	require.Contains(t, out, "would dump")
	require.Contains(t, out, "would archive")
	require.NoDirExists(t, dest)
}

// metrics parses a Prometheus text file into series name{labels} → value.
func metrics(t *testing.T, path string) map[string]string {
	t.Helper()
	content, err := os.ReadFile(path)
	require.NoError(t, err)
	out := map[string]string{}
	for line := range strings.SplitSeq(string(content), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		series, value, ok := strings.Cut(line, " ")
		require.True(t, ok, "malformed line %q", line)
		out[series] = value
	}
	return out
}

func TestCheckBackupStatus_ReportsAgeSizeAndChecksum(t *testing.T) {
	t.Parallel()
	_, url := testkit.NewDatabase(t)
	work := t.TempDir()
	uploads := filepath.Join(work, "uploads")
	writeUploads(t, uploads)
	dest := filepath.Join(work, "backups")
	textfile := filepath.Join(work, "metrics", "backup.prom")
	mustRun(t, map[string]string{"DATABASE_URL": url, "UPLOADS_DIR": uploads}, "backup.sh",
		"--dest", dest)
	dump := newestBackup(t, dest, "db")
	archive := newestBackup(t, dest, "uploads")
	status := func(args ...string) result {
		return runScript(t, nil, "check_backup_status.sh",
			append([]string{"--dest", dest, "--textfile", textfile}, args...)...)
	}

	res := status()
	require.Zero(t, res.code, res.output)
	m := metrics(t, textfile)
	info, err := os.Stat(dump)
	require.NoError(t, err)
	require.Equal(t, "1", m[`backup_checksum_ok{kind="db"}`])
	require.Equal(t, "1", m[`backup_checksum_ok{kind="uploads"}`])
	require.Equal(t, strconv.FormatInt(info.Size(), 10), m[`backup_last_size_bytes{kind="db"}`])
	require.Equal(t, strconv.FormatInt(info.ModTime().Unix(), 10),
		m[`backup_last_success_timestamp_seconds{kind="db"}`])
	age, err := strconv.Atoi(m[`backup_age_seconds{kind="db"}`])
	require.NoError(t, err)
	require.Less(t, age, 600)

	backdate(t, 30*time.Hour, dump)
	res = status()
	require.Equal(t, 1, res.code)
	require.Contains(t, res.output, "the newest db backup is older than 26 h")
	age, err = strconv.Atoi(metrics(t, textfile)[`backup_age_seconds{kind="db"}`])
	require.NoError(t, err)
	require.GreaterOrEqual(t, age, 30*3600)
	require.Zero(t, status("--max-age-hours", "48").code)

	flipByte(t, archive)
	res = status("--max-age-hours", "48")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.output, "the newest uploads backup fails its checksum")
	require.Equal(t, "0", metrics(t, textfile)[`backup_checksum_ok{kind="uploads"}`])
	require.Zero(t, status("--max-age-hours", "48", "--kind", "db").code,
		"only the kinds asked for are checked")

	res = runScript(t, nil, "check_backup_status.sh", "--dest", filepath.Join(work, "empty"),
		"--textfile", textfile)
	require.Equal(t, 1, res.code)
	require.Contains(t, res.output, "no backup")
	require.Equal(t, "+Inf", metrics(t, textfile)[`backup_age_seconds{kind="db"}`])
}

// s3Server is a versitygw process serving a temporary folder over the S3 API.
type s3Server struct {
	endpoint, accessKey, secretKey, root string
}

// requireGoTool finds a program installed with go install, which may be off PATH.
func requireGoTool(t *testing.T, name string) string {
	t.Helper()
	if path, err := exec.LookPath(name); err == nil {
		return path
	}
	for _, variable := range []string{"GOBIN", "GOPATH"} {
		out, err := exec.Command("go", "env", variable).Output()
		dir := strings.TrimSpace(string(out))
		if err != nil || dir == "" {
			continue
		}
		if variable == "GOPATH" {
			dir = filepath.Join(filepath.SplitList(dir)[0], "bin")
		}
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return filepath.Join(dir, name)
		}
	}
	return testkit.RequireTool(t, name) // fails under CI, skips otherwise
}

// startS3 runs versitygw with its POSIX backend on a free port of the loopback interface.
func startS3(t *testing.T) *s3Server {
	t.Helper()
	binary := requireGoTool(t, "versitygw")
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := listener.Addr().String()
	require.NoError(t, listener.Close())

	s := &s3Server{
		endpoint:  "http://" + addr,
		accessKey: "comanda-test",
		secretKey: "comanda-test-secret",
		root:      t.TempDir(),
	}
	cmd := exec.Command(binary, "--port", addr, "--quiet", "posix", s.root)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s.accessKey,
		"ROOT_SECRET_ACCESS_KEY="+s.secretKey)
	logFile, err := os.Create(filepath.Join(t.TempDir(), "versitygw.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logFile.Close()
	})

	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = conn.Close()
			return s
		}
		require.True(t, time.Now().Before(deadline), "versitygw did not start listening on %s", addr)
		time.Sleep(50 * time.Millisecond)
	}
}

// env returns the settings backup.sh and restore.sh read for this server.
func (s *s3Server) env(bucket, prefix string) map[string]string {
	return map[string]string{
		"S3_ENDPOINT":           s.endpoint,
		"S3_BUCKET":             bucket,
		"S3_PREFIX":             prefix,
		"S3_REGION":             "us-east-1",
		"AWS_ACCESS_KEY_ID":     s.accessKey,
		"AWS_SECRET_ACCESS_KEY": s.secretKey,
	}
}

// rclone runs rclone against the server, as an S3 client independent of the scripts.
func (s *s3Server) rclone(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(testkit.RequireTool(t, "rclone"), append([]string{"--config", ""}, args...)...)
	cmd.Env = append(os.Environ(),
		"RCLONE_S3_PROVIDER=Other",
		"RCLONE_S3_ENDPOINT="+s.endpoint,
		"RCLONE_S3_ACCESS_KEY_ID="+s.accessKey,
		"RCLONE_S3_SECRET_ACCESS_KEY="+s.secretKey,
		"RCLONE_S3_REGION=us-east-1",
		"AWS_CA_BUNDLE=", // rclone's AWS client rejects a custom bundle
	)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "rclone %v: %s", args, out)
	return string(out)
}

func TestBackup_UploadsToS3AndRestoreReadsItBack(t *testing.T) {
	t.Parallel()
	s3 := startS3(t)
	s3.rclone(t, "mkdir", ":s3:backups")

	_, url := testkit.NewDatabase(t)
	conn := connect(t, url)
	for i := range 4 {
		appendEvent(t, conn, fmt.Sprintf("order-%d", i))
	}
	wantEvents := eventsSnapshot(t, conn)
	work := t.TempDir()
	uploads := filepath.Join(work, "uploads")
	writeUploads(t, uploads)
	dest := filepath.Join(work, "backups")
	env := withEnv(s3.env("backups", "nightly/host-1/"),
		map[string]string{"DATABASE_URL": url, "UPLOADS_DIR": uploads})

	out := mustRun(t, env, "backup.sh", "--dest", dest)
	require.Contains(t, out, "matches its checksum")

	// The objects hold exactly the local files.
	listing := s3.rclone(t, "lsf", ":s3:backups/nightly/host-1")
	for _, local := range []string{newestBackup(t, dest, "db"), newestBackup(t, dest, "uploads")} {
		name := filepath.Base(local)
		require.Contains(t, listing, name+"\n")
		require.Contains(t, listing, name+".sha256\n")
		want, err := os.ReadFile(local)
		require.NoError(t, err)
		got := s3.rclone(t, "cat", ":s3:backups/nightly/host-1/"+name)
		require.Equal(t, string(want), got, "object %s", name)
	}
	dumpName := filepath.Base(newestBackup(t, dest, "db"))

	// Restore from the bucket into another, empty database.
	_, otherURL := testkit.NewDatabase(t)
	restoreEnv := withEnv(env, map[string]string{
		"DATABASE_URL":       otherURL,
		"UPLOADS_DIR":        filepath.Join(work, "restored-uploads"),
		"RESTORE_SAFETY_DIR": filepath.Join(work, "safety"),
	})
	mustRun(t, restoreEnv, "restore.sh", "s3://backups/nightly/host-1/"+dumpName)
	other := connect(t, otherURL)
	require.Equal(t, wantEvents, eventsSnapshot(t, other))
	require.Equal(t, uploadsSnapshot(t, uploads), uploadsSnapshot(t, filepath.Join(work, "restored-uploads")))
	require.NoError(t, other.Close(t.Context()))

	// --from-s3 with a bare name looks under S3_PREFIX.
	mustRun(t, restoreEnv, "restore.sh", "--db-only", "--force", "--from-s3", dumpName)
	other = connect(t, otherURL)
	require.Equal(t, wantEvents, eventsSnapshot(t, other))

	// A damaged object is refused before anything changes.
	damaged := filepath.Join(t.TempDir(), dumpName)
	content, err := os.ReadFile(newestBackup(t, dest, "db"))
	require.NoError(t, err)
	content[len(content)/2] ^= 0xff
	require.NoError(t, os.WriteFile(damaged, content, 0o600))
	s3.rclone(t, "copyto", damaged, ":s3:backups/nightly/host-1/"+dumpName)
	appendEvent(t, other, "order-after-restore")
	res := runScript(t, restoreEnv, "restore.sh", "--db-only", "--force", "--from-s3",
		"nightly/host-1/"+dumpName)
	require.Equal(t, 1, res.code)
	require.Contains(t, res.output, "checksum mismatch")
	require.Equal(t, 5, countRows(t, other, "events"))
}

// smtpMessage is one message received by smtpReceiver.
type smtpMessage struct {
	from string
	to   []string
	data string
}

// smtpReceiver is a minimal SMTP server that accepts every message and keeps it.
type smtpReceiver struct {
	addr     string
	mu       sync.Mutex
	messages []smtpMessage
}

// startSMTP listens on a free port of the loopback interface until the test ends.
func startSMTP(t *testing.T) *smtpReceiver {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &smtpReceiver{addr: listener.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = listener.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { r.serve(conn) })
		}
	})
	return r
}

// serve speaks just enough SMTP for curl to deliver one or more messages.
func (r *smtpReceiver) serve(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	in := bufio.NewReader(conn)
	reply := func(line string) { _, _ = io.WriteString(conn, line+"\r\n") }
	reply("220 localhost test receiver")
	var msg smtpMessage
	for {
		line, err := in.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(line)
		switch {
		case strings.HasPrefix(verb, "EHLO"), strings.HasPrefix(verb, "HELO"):
			reply("250 localhost")
		case strings.HasPrefix(verb, "MAIL FROM:"):
			msg = smtpMessage{from: strings.Trim(line[len("MAIL FROM:"):], "<> ")}
			reply("250 OK")
		case strings.HasPrefix(verb, "RCPT TO:"):
			msg.to = append(msg.to, strings.Trim(line[len("RCPT TO:"):], "<> "))
			reply("250 OK")
		case verb == "DATA":
			reply("354 end with <CRLF>.<CRLF>")
			var data strings.Builder
			for {
				l, err := in.ReadString('\n')
				if err != nil {
					return
				}
				if strings.TrimRight(l, "\r\n") == "." {
					break
				}
				data.WriteString(l)
			}
			msg.data = data.String()
			r.mu.Lock()
			r.messages = append(r.messages, msg)
			r.mu.Unlock()
			reply("250 OK queued")
		case verb == "QUIT":
			reply("221 bye")
			return
		case verb == "RSET", verb == "NOOP":
			reply("250 OK")
		default:
			reply("502 not implemented")
		}
	}
}

// received returns the messages received so far.
func (r *smtpReceiver) received() []smtpMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]smtpMessage(nil), r.messages...)
}

// webhookReceiver records the text of every Slack-style message posted to it.
type webhookReceiver struct {
	url   string
	mu    sync.Mutex
	texts []string
}

func startWebhook(t *testing.T) *webhookReceiver {
	t.Helper()
	w := &webhookReceiver{}
	server := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		var body struct {
			Text string `json:"text"`
		}
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" ||
			json.NewDecoder(req.Body).Decode(&body) != nil {
			http.Error(rw, "bad request", http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		w.texts = append(w.texts, body.Text)
		w.mu.Unlock()
		_, _ = io.WriteString(rw, "ok")
	}))
	t.Cleanup(server.Close)
	w.url = server.URL + "/services/T000/B000/hook"
	return w
}

func (w *webhookReceiver) received() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.texts...)
}

func TestBackup_NotifiesWebhookAndEmailOfSuccessAndFailure(t *testing.T) {
	t.Parallel()
	testkit.RequireTool(t, "curl")
	webhook := startWebhook(t)
	mail := startSMTP(t)
	_, url := testkit.NewDatabase(t)
	dest := filepath.Join(t.TempDir(), "backups")
	env := map[string]string{
		"DATABASE_URL":      url,
		"SLACK_WEBHOOK_URL": webhook.url,
		"SMTP_URL":          "smtp://" + mail.addr,
		"SMTP_FROM":         "backups@comanda.test",
		"SMTP_TO":           "ops@comanda.test, oncall@comanda.test",
	}

	mustRun(t, env, "backup.sh", "--db-only", "--dest", dest)

	dumpName := filepath.Base(newestBackup(t, dest, "db"))
	texts := webhook.received()
	require.Len(t, texts, 1)
	require.Contains(t, texts[0], "succeeded")
	require.Contains(t, texts[0], dumpName)
	messages := mail.received()
	require.Len(t, messages, 1)
	require.Equal(t, "backups@comanda.test", messages[0].from)
	require.Equal(t, []string{"ops@comanda.test", "oncall@comanda.test"}, messages[0].to)
	require.Contains(t, messages[0].data, "Subject: [comanda] backup.sh succeeded")
	require.Contains(t, messages[0].data, dumpName)

	failing := withEnv(env, map[string]string{
		"DATABASE_URL": testkit.Cluster(t).AdminURL("no_such_database"),
	})
	res := runScript(t, failing, "backup.sh", "--db-only", "--dest", dest)
	require.Equal(t, 1, res.code)
	require.Contains(t, res.output, "backup failed at step 'dump'")

	texts = webhook.received()
	require.Len(t, texts, 2)
	require.Contains(t, texts[1], "FAILED")
	require.Contains(t, texts[1], "'dump'")
	messages = mail.received()
	require.Len(t, messages, 2)
	require.Contains(t, messages[1].data, "Subject: [comanda] backup.sh failed")
	require.Contains(t, messages[1].data, "'dump'")
}

func TestScripts_HelpAndUsageErrors(t *testing.T) {
	t.Parallel()
	for _, script := range []string{
		"backup.sh", "restore.sh", "check_backup_status.sh", "pgbench_ceiling.sh",
	} {
		res := runScript(t, nil, script, "--help")
		require.Zero(t, res.code, script)
		require.Contains(t, res.output, "Usage: "+script)

		res = runScript(t, nil, script, "--no-such-option")
		require.Equal(t, 2, res.code, script)
	}
}

func TestPgbenchCeiling_MeasuresAThrowawayClusterAndWritesResults(t *testing.T) {
	t.Parallel()
	testkit.RequireTool(t, "pgbench")
	testkit.RequireTool(t, "initdb")
	out := filepath.Join(t.TempDir(), "results.env")

	printed := mustRun(t, nil, "pgbench_ceiling.sh", "--seconds", "1", "--out", out)

	require.Contains(t, printed, "nproc: ")
	require.Contains(t, printed, "cpu: ")
	require.Contains(t, printed, "fsync=on synchronous_commit=on")
	content, err := os.ReadFile(out)
	require.NoError(t, err)
	values := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(content)), "\n") {
		key, value, ok := strings.Cut(line, "=")
		require.True(t, ok, "malformed line %q", line)
		values[key] = value
	}
	for _, key := range []string{
		"CEIL_INSERT1_C1_TPS", "CEIL_INSERT1_C16_TPS", "CEIL_INSERT100_C1_ROWS",
		"CEIL_INSERT100_C4_ROWS", "CEIL_READ1000_ROWS",
	} {
		v, err := strconv.ParseFloat(values[key], 64)
		require.NoError(t, err, key)
		require.Positive(t, v, key)
	}
	require.Equal(t, "on", values["CEIL_FSYNC"])
}

func TestShellcheck_FindsNothingInAnyScript(t *testing.T) {
	t.Parallel()
	shellcheck := testkit.RequireTool(t, "shellcheck")
	var scripts []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".sh") {
			scripts = append(scripts, path)
		}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, scripts)

	out, err := exec.Command(shellcheck, append([]string{"--external-sources"}, scripts...)...).
		CombinedOutput()
	require.NoError(t, err, "shellcheck:\n%s", out)
}
