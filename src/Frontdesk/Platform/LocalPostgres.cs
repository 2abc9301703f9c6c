using System.Diagnostics;
using System.Text;

namespace Frontdesk.Platform;

/// <summary>
/// A private PostgreSQL cluster under a project folder, listening only on a Unix socket inside it.
/// Used by the server when no database URL is configured and by the test suite (one per run).
/// </summary>
public sealed class LocalPostgres
{
    public const string SuperUser = "postgres";
    public const string DatabaseName = "frontdesk";

    /// <summary>Where clusters go when the postgres OS user cannot reach the data folder (root's private folders).</summary>
    public const string SharedClustersDir = "/var/lib/frontdesk";

    /// <summary>How a cluster is made: its bootstrap superuser, the database the application uses, and
    /// settings beyond the defaults (the test suite's Supabase-shaped cluster uses all of them).</summary>
    public sealed record Setup
    {
        public string SuperUser { get; init; } = LocalPostgres.SuperUser;
        public string Database { get; init; } = DatabaseName;
        public int Port { get; init; } = 5432;
        /// <summary>Lines appended to postgresql.conf.</summary>
        public IReadOnlyList<string> Settings { get; init; } = [];
        /// <summary>Replaces pg_hba.conf when set (initdb's is trust for local connections).</summary>
        public string? Hba { get; init; }
    }

    readonly string _bin;
    readonly bool _asPostgresUser;
    readonly Setup _setup;

    public string ClusterDir { get; }
    public string SocketDir => ClusterDir;
    public Setup Settings => _setup;

    LocalPostgres(string clusterDir, string bin, Setup setup)
    {
        ClusterDir = clusterDir;
        _bin = bin;
        _setup = setup;
        _asPostgresUser = RunsAsPostgresUser;
    }

    /// <summary>initdb and postgres refuse to run as root; the postgres OS user owns the cluster then.</summary>
    public static bool RunsAsPostgresUser =>
        Environment.UserName == "root" || Environment.GetEnvironmentVariable("USER") == "root" || (OperatingSystem.IsLinux() && GetUid() == 0);

    public static LocalPostgres For(string clusterDir, Setup? setup = null) => new(Path.GetFullPath(clusterDir), FindBinaries(), setup ?? new Setup());

    /// <summary>
    /// The embedded cluster of a data folder: <c>{dataDir}/pg</c>, unless the cluster must run as the
    /// postgres OS user and that user cannot reach the folder — a root-owned private folder such as one
    /// made by <c>mktemp -d</c>. Then it lives under <see cref="SharedClustersDir"/> in a folder keyed by
    /// the data folder's full path, so each checkout keeps its own cluster across runs.
    /// </summary>
    public static LocalPostgres ForDataDir(string dataDir) => For(ClusterDirFor(dataDir));

    public static string ClusterDirFor(string dataDir)
    {
        var full = Path.GetFullPath(dataDir);
        var inside = Path.Combine(full, "pg");
        if (!RunsAsPostgresUser || OperatingSystem.IsWindows() || File.Exists(Path.Combine(inside, "PG_VERSION"))) return inside;
        Directory.CreateDirectory(full);
        if (UnreachableAncestor(full) is null) return inside;
        var key = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(full)))[..16];
        var home = Path.Combine(SharedClustersDir, key);
        // 755 whatever the umask: the postgres user must traverse both folders to reach its cluster.
        const UnixFileMode Traversable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                                         | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        foreach (var d in new[] { SharedClustersDir, home })
        {
            Directory.CreateDirectory(d);
            File.SetUnixFileMode(d, Traversable);
        }
        // Says whose cluster this is, for a person looking at the folder.
        File.WriteAllText(Path.Combine(home, "data-dir"), full + Environment.NewLine);
        return Path.Combine(home, "pg");
    }

    /// <summary>
    /// Removes throwaway clusters (<c>/tmp/{prefix}{pid}/pg</c>) whose owning process is gone: a test
    /// host is sometimes ended before its exit handler deletes its folder, and CI reuses the machine.
    /// </summary>
    public static void SweepStale(string prefix)
    {
        foreach (var dir in Directory.GetDirectories(Path.GetTempPath(), prefix + "*"))
        {
            if (!int.TryParse(Path.GetFileName(dir)[prefix.Length..], out var pid) || pid == Environment.ProcessId || IsAlive(pid)) continue;
            try
            {
                var cluster = Path.Combine(dir, "pg");
                if (File.Exists(Path.Combine(cluster, "PG_VERSION"))) For(cluster).StopAsync().GetAwaiter().GetResult();
                Directory.Delete(dir, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                // Someone else's or still in use: leave it.
            }
        }
    }

    static bool IsAlive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    public string AdminConnectionString(string? database = null) =>
        $"Host={SocketDir};Port={_setup.Port};Username={_setup.SuperUser};Database={database ?? _setup.Database};Pooling=false;Timeout=15";

    public string AppConnectionString() =>
        $"Host={SocketDir};Port={_setup.Port};Username=frontdesk_app;Database={_setup.Database}";

    public async Task<bool> IsRunningAsync(CancellationToken ct) =>
        File.Exists(Path.Combine(ClusterDir, "PG_VERSION"))
        && await RunAsync("pg_ctl", ["-D", ClusterDir, "status"], ct, throwOnError: false) == 0;

    /// <summary>Creates the cluster if needed and starts it unless it is already running.</summary>
    /// <returns>True when this call started the server: only then may its caller stop it (a server
    /// found running belongs to whoever started it, e.g. a Frontdesk serving beside an operator command).</returns>
    public async Task<bool> StartAsync(bool durable, CancellationToken ct)
    {
        var socketPath = Path.Combine(SocketDir, $".s.PGSQL.{_setup.Port}");
        if (Encoding.UTF8.GetByteCount(socketPath) > 100)
            throw new StartupException(
                $"The data folder path is too long for a Unix socket ({socketPath}); set FRONTDESK_DATA_DIR to a shorter path.");

        if (!File.Exists(Path.Combine(ClusterDir, "PG_VERSION")))
            await InitAsync(durable, ct);

        if (await IsRunningAsync(ct))
            return false;
        var log = Path.Combine(ClusterDir, "server.log");
        if (await RunAsync("pg_ctl", ["-D", ClusterDir, "-l", log, "-w", "-t", "60", "start"], ct, throwOnError: false) != 0)
        {
            // Someone else (a server starting beside this command) may have won the race to start it.
            if (await IsRunningAsync(ct)) return false;
            throw new StartupException($"The private PostgreSQL cluster in {ClusterDir} did not start; its log is {log}.");
        }
        await EnsureDatabaseAsync(ct);
        return true;
    }

    /// <param name="immediate">For a throwaway cluster at process exit: no checkpoint and no waiting, so
    /// the signal is sent before a test host's exit deadline (SweepStale removes what is left).</param>
    public async Task StopAsync(bool immediate = false)
    {
        if (File.Exists(Path.Combine(ClusterDir, "postmaster.pid")))
            await RunAsync("pg_ctl", ["-D", ClusterDir, "-m", immediate ? "immediate" : "fast", immediate ? "-W" : "-w", "stop"], CancellationToken.None, throwOnError: false);
    }

    async Task InitAsync(bool durable, CancellationToken ct)
    {
        Directory.CreateDirectory(ClusterDir);
        if (_asPostgresUser)
        {
            await RunProcessAsync("chown", ["postgres:postgres", ClusterDir], ct);
            await RunProcessAsync("chmod", ["700", ClusterDir], ct);
            EnsureTraversable(ClusterDir);
        }
        await RunAsync("initdb", ["-D", ClusterDir, "-U", _setup.SuperUser, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"], ct);
        var conf = new StringBuilder()
            .AppendLine()
            .AppendLine("# Frontdesk private cluster: Unix socket only, inside the data folder.")
            .AppendLine("listen_addresses = ''")
            .AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"unix_socket_directories = '{ClusterDir.Replace("'", "''", StringComparison.Ordinal)}'")
            .AppendLine("unix_socket_permissions = 0770")
            .AppendLine("max_connections = 300")
            .AppendLine("shared_buffers = 128MB");
        if (_setup.Port != 5432) conf.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"port = {_setup.Port}");
        if (!durable)
            // A throwaway test cluster: durability buys nothing and costs seconds per run.
            conf.AppendLine("fsync = off").AppendLine("synchronous_commit = off").AppendLine("full_page_writes = off");
        foreach (var line in _setup.Settings) conf.AppendLine(line);
        var confPath = Path.Combine(ClusterDir, "postgresql.conf");
        await File.AppendAllTextAsync(confPath, conf.ToString(), ct);
        if (_setup.Hba is { } hba)
            await File.WriteAllTextAsync(Path.Combine(ClusterDir, "pg_hba.conf"), hba, ct);
    }

    async Task EnsureDatabaseAsync(CancellationToken ct)
    {
        await using var conn = new Npgsql.NpgsqlConnection(AdminConnectionString("postgres"));
        await conn.OpenAsync(ct);
        await using var check = new Npgsql.NpgsqlCommand("select 1 from pg_database where datname = $1", conn);
        check.Parameters.AddWithValue(_setup.Database);
        if (await check.ExecuteScalarAsync(ct) is null)
        {
            await using var create = new Npgsql.NpgsqlCommand($"create database \"{_setup.Database}\"", conn);
            await create.ExecuteNonQueryAsync(ct);
        }
    }

    static void EnsureTraversable(string dir)
    {
        // The postgres user must be able to reach the cluster folder through its parents.
        if (OperatingSystem.IsWindows()) return;
        if (UnreachableAncestor(Path.GetDirectoryName(dir)!) is { } blocked)
            throw new StartupException(
                $"The postgres OS user cannot reach {dir}: {blocked} is not traversable by others. " +
                "Set FRONTDESK_DATA_DIR to a folder others can traverse, or run as a non-root user.");
    }

    /// <summary>The first folder from <paramref name="dir"/> up that others cannot traverse, or null.</summary>
    static string? UnreachableAncestor(string dir)
    {
        if (OperatingSystem.IsWindows()) return null;
        for (var d = new DirectoryInfo(dir); d is not null; d = d.Parent)
            if (d.Exists && (File.GetUnixFileMode(d.FullName) & UnixFileMode.OtherExecute) == 0)
                return d.FullName;
        return null;
    }

    Task<int> RunAsync(string tool, string[] args, CancellationToken ct, bool throwOnError = true)
    {
        var exe = Path.Combine(_bin, tool);
        return _asPostgresUser
            ? RunProcessAsync("runuser", ["-u", "postgres", "--", exe, .. args], ct, throwOnError)
            : RunProcessAsync(exe, args, ct, throwOnError);
    }

    static async Task<int> RunProcessAsync(string file, string[] args, CancellationToken ct, bool throwOnError = true)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new StartupException($"Could not start {file}.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new StartupException($"Could not start {file} ({e.Message}); the private cluster needs it.");
        }
        using var _ = p;
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        if (p.ExitCode != 0 && throwOnError)
            throw new StartupException(
                $"{Path.GetFileName(file)} {string.Join(' ', args)} failed ({p.ExitCode}): {await stderr}{await stdout}");
        return p.ExitCode;
    }

    /// <summary>PostgreSQL ≥ 15 server binaries: pg_config --bindir, PATH, then /usr/lib/postgresql/*/bin.</summary>
    public static string FindBinaries()
    {
        var candidates = new List<string>();
        try
        {
            var psi = new ProcessStartInfo("pg_config", "--bindir") { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi);
            if (p is not null)
            {
                var dir = p.StandardOutput.ReadToEnd().Trim();
                p.WaitForExit();
                if (p.ExitCode == 0) candidates.Add(dir);
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // pg_config is not installed: try the other places.
        }
        candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries));
        if (Directory.Exists("/usr/lib/postgresql"))
            candidates.AddRange(Directory.GetDirectories("/usr/lib/postgresql")
                .OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var v) ? v : 0)
                .Select(d => Path.Combine(d, "bin")));

        foreach (var dir in candidates)
        {
            if (!File.Exists(Path.Combine(dir, "initdb")) || !File.Exists(Path.Combine(dir, "pg_ctl"))) continue;
            var real = Path.GetDirectoryName(ResolveLink(Path.Combine(dir, "initdb")))!;
            if (MajorVersion(real) >= 15) return real;
        }
        throw new StartupException(
            "No PostgreSQL ≥ 15 server binaries found (looked at pg_config --bindir, PATH and /usr/lib/postgresql/*/bin). " +
            "Install them with: apt-get install -y postgresql-15 postgresql-contrib   — or set FRONTDESK_DATABASE_URL.");
    }

    static string ResolveLink(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget is null ? path : info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
    }

    static int MajorVersion(string bindir)
    {
        try
        {
            var psi = new ProcessStartInfo(Path.Combine(bindir, "postgres"), "--version") { RedirectStandardOutput = true };
            using var p = Process.Start(psi)!;
            var text = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            var m = System.Text.RegularExpressions.Regex.Match(text, @"(\d+)(\.\d+)?");
            return m.Success ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return 0;
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "geteuid")]
    static extern uint GetEuidNative();

    static uint GetUid()
    {
        try { return GetEuidNative(); }
        catch (DllNotFoundException) { return uint.MaxValue; }
        catch (EntryPointNotFoundException) { return uint.MaxValue; }
    }
}
