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

    readonly string _bin;
    readonly bool _asPostgresUser;

    public string ClusterDir { get; }
    public string SocketDir => ClusterDir;

    LocalPostgres(string clusterDir, string bin)
    {
        ClusterDir = clusterDir;
        _bin = bin;
        // initdb and postgres refuse to run as root; the postgres OS user owns the cluster then.
        _asPostgresUser = Environment.UserName == "root" || Environment.GetEnvironmentVariable("USER") == "root"
                          || (OperatingSystem.IsLinux() && GetUid() == 0);
    }

    public static LocalPostgres For(string clusterDir) => new(Path.GetFullPath(clusterDir), FindBinaries());

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

    public string AdminConnectionString(string database = DatabaseName) =>
        $"Host={SocketDir};Username={SuperUser};Database={database};Pooling=false;Timeout=15";

    public string AppConnectionString() =>
        $"Host={SocketDir};Username=frontdesk_app;Database={DatabaseName}";

    /// <summary>Creates the cluster if needed and starts it unless it is already running.</summary>
    public async Task StartAsync(bool durable, CancellationToken ct)
    {
        var socketPath = Path.Combine(SocketDir, ".s.PGSQL.5432");
        if (Encoding.UTF8.GetByteCount(socketPath) > 100)
            throw new InvalidOperationException(
                $"The data folder path is too long for a Unix socket ({socketPath}); set FRONTDESK_DATA_DIR to a shorter path.");

        if (!File.Exists(Path.Combine(ClusterDir, "PG_VERSION")))
            await InitAsync(durable, ct);

        if (await RunAsync("pg_ctl", ["-D", ClusterDir, "status"], ct, throwOnError: false) == 0)
            return;
        var log = Path.Combine(ClusterDir, "server.log");
        await RunAsync("pg_ctl", ["-D", ClusterDir, "-l", log, "-w", "-t", "60", "start"], ct);
        await EnsureDatabaseAsync(ct);
    }

    public async Task StopAsync()
    {
        if (File.Exists(Path.Combine(ClusterDir, "postmaster.pid")))
            await RunAsync("pg_ctl", ["-D", ClusterDir, "-m", "fast", "-w", "stop"], CancellationToken.None, throwOnError: false);
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
        await RunAsync("initdb", ["-D", ClusterDir, "-U", SuperUser, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"], ct);
        var conf = new StringBuilder()
            .AppendLine()
            .AppendLine("# Frontdesk private cluster: Unix socket only, inside the data folder.")
            .AppendLine("listen_addresses = ''")
            .AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"unix_socket_directories = '{ClusterDir.Replace("'", "''", StringComparison.Ordinal)}'")
            .AppendLine("unix_socket_permissions = 0770")
            .AppendLine("max_connections = 300")
            .AppendLine("shared_buffers = 128MB");
        if (!durable)
            // A throwaway test cluster: durability buys nothing and costs seconds per run.
            conf.AppendLine("fsync = off").AppendLine("synchronous_commit = off").AppendLine("full_page_writes = off");
        var confPath = Path.Combine(ClusterDir, "postgresql.conf");
        await File.AppendAllTextAsync(confPath, conf.ToString(), ct);
    }

    async Task EnsureDatabaseAsync(CancellationToken ct)
    {
        await using var conn = new Npgsql.NpgsqlConnection(AdminConnectionString("postgres"));
        await conn.OpenAsync(ct);
        await using var check = new Npgsql.NpgsqlCommand("select 1 from pg_database where datname = $1", conn);
        check.Parameters.AddWithValue(DatabaseName);
        if (await check.ExecuteScalarAsync(ct) is null)
        {
            await using var create = new Npgsql.NpgsqlCommand($"create database {DatabaseName}", conn);
            await create.ExecuteNonQueryAsync(ct);
        }
    }

    static void EnsureTraversable(string dir)
    {
        // The postgres user must be able to reach the cluster folder through its parents.
        if (OperatingSystem.IsWindows()) return;
        for (var d = Directory.GetParent(dir); d is not null; d = d.Parent)
        {
            var mode = File.GetUnixFileMode(d.FullName);
            if ((mode & UnixFileMode.OtherExecute) == 0)
                throw new InvalidOperationException(
                    $"The postgres OS user cannot reach {dir}: {d.FullName} is not traversable by others. " +
                    "Set FRONTDESK_DATA_DIR to a folder under /tmp or /work, or run as a non-root user.");
        }
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
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        if (p.ExitCode != 0 && throwOnError)
            throw new InvalidOperationException(
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
        throw new InvalidOperationException(
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
