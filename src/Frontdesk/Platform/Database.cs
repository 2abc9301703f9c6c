using Npgsql;

namespace Frontdesk.Platform;

/// <summary>
/// Decides where the database is, starts the private cluster when none is configured, applies
/// migrations when asked, and builds the one NpgsqlDataSource request paths use.
/// </summary>
public sealed class DatabaseHost : IAsyncDisposable
{
    public required string AdminConnectionString { get; init; }
    public required NpgsqlDataSource DataSource { get; init; }
    public LocalPostgres? Local { get; init; }

    public static async Task<DatabaseHost> StartAsync(FrontdeskOptions options, bool isDevelopment, ILogger log, CancellationToken ct)
    {
        LocalPostgres? local = null;
        string admin, app;
        if (string.IsNullOrWhiteSpace(options.DatabaseUrl))
        {
            local = LocalPostgres.For(Path.Combine(options.DataDir, "pg"));
            log.LogInformation("Starting the private PostgreSQL cluster in {Dir}", local.ClusterDir);
            await local.StartAsync(durable: true, ct);
            admin = local.AdminConnectionString();
            app = local.AppConnectionString();
        }
        else
        {
            admin = ToConnectionString(options.DatabaseUrl);
            app = string.IsNullOrWhiteSpace(options.AppDatabaseUrl)
                ? AsAppLogin(admin)
                : ToConnectionString(options.AppDatabaseUrl);
        }

        if (options.MigrateOnStart ?? (local is not null || isDevelopment))
        {
            var applied = await Migrator.ApplyAsync(admin, ct);
            if (applied.Count > 0) log.LogInformation("Applied {Count} migrations", applied.Count);
        }

        return new DatabaseHost { AdminConnectionString = admin, DataSource = BuildDataSource(app), Local = local };
    }

    public static NpgsqlDataSource BuildDataSource(string connectionString)
    {
        var csb = new NpgsqlConnectionStringBuilder(connectionString)
        {
            // Safe because every setting we make is transaction-local (set_config(..., true)):
            // a pooled connection never carries a clinic into the next request, so the per-checkout
            // DISCARD ALL buys nothing and costs a statement.
            NoResetOnClose = true,
            // The admin string the app login may be derived from disables pooling (migrations);
            // request paths always pool.
            Pooling = true,
            // Request paths repeat a few hundred statement shapes; preparing them once per
            // connection skips parse and plan on every call (the tenant preamble included).
            MaxAutoPrepare = 256,
            AutoPrepareMinUsages = 2,
        };
        if (csb.MaxPoolSize == 100) csb.MaxPoolSize = 150;
        var builder = new NpgsqlDataSourceBuilder(csb.ConnectionString);
        return builder.Build();
    }

    /// <summary>The configured URL logs in as the schema owner (migrations); requests log in as
    /// frontdesk_app, which owns nothing and can only switch to the API roles.</summary>
    static string AsAppLogin(string admin)
    {
        var csb = new NpgsqlConnectionStringBuilder(admin) { Username = "frontdesk_app" };
        return csb.ConnectionString;
    }

    /// <summary>Accepts postgres:// URLs (Supabase, Heroku style) and Npgsql connection strings.</summary>
    public static string ToConnectionString(string value)
    {
        if (!value.StartsWith("postgres://", StringComparison.Ordinal) && !value.StartsWith("postgresql://", StringComparison.Ordinal))
            return value;
        var uri = new Uri(value);
        var csb = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')) is { Length: > 0 } db ? db : "postgres",
        };
        var userInfo = uri.UserInfo.Split(':', 2);
        if (userInfo[0].Length > 0) csb.Username = Uri.UnescapeDataString(userInfo[0]);
        if (userInfo.Length > 1) csb.Password = Uri.UnescapeDataString(userInfo[1]);
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            var key = Uri.UnescapeDataString(kv[0]);
            var val = kv.Length > 1 ? Uri.UnescapeDataString(kv[1]) : "";
            if (key == "sslmode") csb.SslMode = Enum.Parse<SslMode>(val.Replace("-", "", StringComparison.Ordinal), ignoreCase: true);
            else csb[key] = val;
        }
        return csb.ConnectionString;
    }

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        if (Local is not null) await Local.StopAsync();
    }
}
