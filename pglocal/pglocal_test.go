package pglocal_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"comanda/internal/testkit"
	"comanda/pglocal"
)

// newDataDir returns a data directory path, not yet created, inside a fresh temporary folder
// that the server's system user can reach.
func newDataDir(t *testing.T) string {
	t.Helper()
	testkit.RequireTool(t, "initdb")

	dir := t.TempDir()
	if os.Geteuid() == 0 {
		// As root the server runs as the postgres user, which must be able to search the
		// private folders the testing package makes.
		require.NoError(t, os.Chmod(dir, 0o711))
		require.NoError(t, os.Chmod(filepath.Dir(dir), 0o711))
	}
	return filepath.Join(dir, "data")
}

// start starts a server and stops it when the test ends.
func start(t *testing.T, cfg pglocal.Config) *pglocal.Server {
	t.Helper()
	begin := time.Now()
	s, err := pglocal.Start(t.Context(), cfg)
	require.NoError(t, err)
	t.Logf("started in %v", time.Since(begin))
	t.Cleanup(func() { stop(t, s) })
	return s
}

// stop stops a server, ignoring how a server that had already exited ended.
func stop(t *testing.T, s *pglocal.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case <-s.Done():
		_ = s.Stop(ctx)
	default:
		require.NoError(t, s.Stop(ctx))
	}
}

// connect opens a connection that is closed when the test ends.
func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func TestStart_FirstStartCreatesAReachableClusterAndDatabase(t *testing.T) {
	dataDir := newDataDir(t)

	s := start(t, pglocal.Config{DataDir: dataDir, Throwaway: true})

	require.FileExists(t, filepath.Join(dataDir, "PG_VERSION"))
	require.Equal(t, filepath.Join(dataDir, "server.log"), s.LogFile())
	require.FileExists(t, s.LogFile())
	require.Contains(t, s.URL(), "dbname=comanda")

	conn := connect(t, s.URL())
	var database, maxConnections, fsync string
	err := conn.QueryRow(t.Context(),
		"SELECT current_database(), current_setting('max_connections'), current_setting('fsync')").
		Scan(&database, &maxConnections, &fsync)
	require.NoError(t, err)
	require.Equal(t, "comanda", database)
	require.Equal(t, "200", maxConnections)
	require.Equal(t, "off", fsync)
}

func TestStart_ServerListensOnNoTCPPort(t *testing.T) {
	s := start(t, pglocal.Config{DataDir: newDataDir(t), Throwaway: true})

	var listen string
	err := connect(t, s.URL()).QueryRow(t.Context(), "SHOW listen_addresses").Scan(&listen)
	require.NoError(t, err)
	require.Empty(t, listen)
}

func TestStart_RestartKeepsData(t *testing.T) {
	dataDir := newDataDir(t)
	cfg := pglocal.Config{DataDir: dataDir, Database: "orders"}

	first := start(t, cfg)
	conn := connect(t, first.URL())
	var fsync string
	require.NoError(t, conn.QueryRow(t.Context(), "SHOW fsync").Scan(&fsync))
	require.Equal(t, "on", fsync, "a durable cluster keeps fsync on")
	_, err := conn.Exec(t.Context(), "CREATE TABLE notes (body text NOT NULL)")
	require.NoError(t, err)
	_, err = conn.Exec(t.Context(), "INSERT INTO notes VALUES ('kept')")
	require.NoError(t, err)
	require.NoError(t, conn.Close(t.Context()))
	stop(t, first)

	second := start(t, cfg)
	var body string
	err = connect(t, second.URL()).QueryRow(t.Context(), "SELECT body FROM notes").Scan(&body)
	require.NoError(t, err)
	require.Equal(t, "kept", body)
}

func TestStart_SecondServerOnSameDataDirIsRefusedAndFirstKeepsWorking(t *testing.T) {
	dataDir := newDataDir(t)
	cfg := pglocal.Config{DataDir: dataDir, Throwaway: true}
	first := start(t, cfg)

	second, err := pglocal.Start(t.Context(), cfg)
	t.Log(err)

	require.ErrorIs(t, err, pglocal.ErrDataDirInUse)
	require.Nil(t, second)
	require.Contains(t, err.Error(), dataDir)
	require.NotContains(t, err.Error(), "\n")
	var one int
	require.NoError(t, connect(t, first.URL()).QueryRow(t.Context(), "SELECT 1").Scan(&one))
	require.Equal(t, 1, one)
}

func TestStart_ConcurrentFirstStartsLeaveOneServer(t *testing.T) {
	dataDir := newDataDir(t)
	cfg := pglocal.Config{DataDir: dataDir, Throwaway: true}

	var wg sync.WaitGroup
	servers := make([]*pglocal.Server, 2)
	errs := make([]error, 2)
	for i := range servers {
		wg.Go(func() { servers[i], errs[i] = pglocal.Start(t.Context(), cfg) })
	}
	wg.Wait()

	var running *pglocal.Server
	for i, s := range servers {
		if errs[i] == nil {
			require.Nil(t, running, "both servers started on one data directory")
			running = s
			t.Cleanup(func() { stop(t, s) })
			continue
		}
		t.Log(errs[i])
		require.ErrorIs(t, errs[i], pglocal.ErrDataDirInUse)
	}
	require.NotNil(t, running)
	var one int
	require.NoError(t, connect(t, running.URL()).QueryRow(t.Context(), "SELECT 1").Scan(&one))
}

func TestStart_RestartsAfterACrash(t *testing.T) {
	dataDir := newDataDir(t)
	cfg := pglocal.Config{DataDir: dataDir}
	crashed := start(t, cfg)
	_, err := connect(t, crashed.URL()).Exec(t.Context(), "CREATE TABLE survivors (id int)")
	require.NoError(t, err)

	require.NoError(t, syscall.Kill(crashed.PID(), syscall.SIGKILL))
	<-crashed.Done()
	require.FileExists(t, filepath.Join(dataDir, "postmaster.pid"), "a crash leaves the lock file")

	restarted := start(t, cfg)
	var count int
	err = connect(t, restarted.URL()).
		QueryRow(t.Context(), "SELECT count(*) FROM survivors").Scan(&count)
	require.NoError(t, err)
	require.Zero(t, count)
}

func TestStart_LongDataDirPathGetsAShortSocketFolder(t *testing.T) {
	dataDir := filepath.Join(newDataDir(t), strings.Repeat("nested-folder-", 8), "data")

	s := start(t, pglocal.Config{DataDir: dataDir, Throwaway: true})

	require.Greater(t, len(dataDir+".socket/.s.PGSQL.5432"), 107)
	var one int
	require.NoError(t, connect(t, s.URL()).QueryRow(t.Context(), "SELECT 1").Scan(&one))
}

func TestStart_FailureDuringStartUpReportsTheServerLog(t *testing.T) {
	cfg := pglocal.Config{
		DataDir:   newDataDir(t),
		Throwaway: true,
		Settings:  map[string]string{"shared_buffers": "not-a-size"},
	}

	s, err := pglocal.Start(t.Context(), cfg)
	t.Log(err)

	require.Nil(t, s)
	require.ErrorContains(t, err, "exited during start-up")
	require.ErrorContains(t, err, `invalid value for parameter "shared_buffers"`)
}

func TestStart_RefusesANonEmptyFolderWithoutCluster(t *testing.T) {
	dataDir := newDataDir(t)
	require.NoError(t, os.MkdirAll(dataDir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dataDir, "notes.txt"), []byte("mine"), 0o600))

	_, err := pglocal.Start(t.Context(), pglocal.Config{DataDir: dataDir, Throwaway: true})

	require.ErrorContains(t, err, "holds no PostgreSQL cluster")
	require.FileExists(t, filepath.Join(dataDir, "notes.txt"))
}

func TestServer_StopIsIdempotent(t *testing.T) {
	s := start(t, pglocal.Config{DataDir: newDataDir(t), Throwaway: true})

	require.NoError(t, s.Stop(t.Context()))
	require.NoError(t, s.Stop(t.Context()))
	select {
	case <-s.Done():
	default:
		t.Fatal("Done is open after Stop returned")
	}
}

func TestFindBinaries_BogusExplicitDirWithEmptyPathFails(t *testing.T) {
	t.Setenv("PATH", "")

	dir, err := pglocal.FindBinaries(filepath.Join(t.TempDir(), "no-such-bin"))
	t.Log(err)

	require.ErrorIs(t, err, pglocal.ErrBinariesMissing)
	require.Empty(t, dir)
	require.NotContains(t, err.Error(), "\n")
	require.Contains(t, err.Error(), "apt-get install postgresql-15")
}

func TestFindBinaries_FindsTheDebianFolderWithoutPath(t *testing.T) {
	testkit.RequireTool(t, "initdb")
	if _, err := os.Stat("/usr/lib/postgresql"); err != nil {
		t.Skip("no Debian PostgreSQL packages on this machine")
	}
	t.Setenv("PATH", "")

	dir, err := pglocal.FindBinaries("")

	require.NoError(t, err)
	require.True(t, strings.HasPrefix(dir, "/usr/lib/postgresql/"), dir)
	require.FileExists(t, filepath.Join(dir, "postgres"))
}

func TestFindBinaries_ExplicitFolderIsUsed(t *testing.T) {
	testkit.RequireTool(t, "initdb")
	found, err := pglocal.FindBinaries("")
	require.NoError(t, err)

	dir, err := pglocal.FindBinaries(found)

	require.NoError(t, err)
	require.Equal(t, found, dir)
	require.FileExists(t, filepath.Join(dir, "initdb"), fmt.Sprintf("in %s", dir))
}

func TestStart_AsRootAFolderThePostgresUserCannotReachIsReported(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root hands the server over to the postgres user")
	}
	parent := filepath.Join(newDataDir(t), "private")
	require.NoError(t, os.MkdirAll(parent, 0o700))

	_, err := pglocal.Start(t.Context(), pglocal.Config{
		DataDir:   filepath.Join(parent, "data"),
		Throwaway: true,
	})

	require.ErrorContains(t, err, "chmod o+x "+parent)
	require.NoDirExists(t, filepath.Join(parent, "data"))
}
