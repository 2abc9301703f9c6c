using System.ComponentModel.DataAnnotations;

namespace Frontdesk.Platform;

/// <summary>Everything configurable, bound once from the environment (API.md's variable names) or
/// from the <c>Frontdesk</c> configuration section.</summary>
public sealed class FrontdeskOptions
{
    /// <summary>PostgreSQL URL or Npgsql connection string; unset → private local cluster.</summary>
    public string? DatabaseUrl { get; set; }

    /// <summary>Optional separate login for request paths (not superuser, not table owner).</summary>
    public string? AppDatabaseUrl { get; set; }

    [Required] public string DataDir { get; set; } = ".frontdesk";

    public string? JwtSecret { get; set; }

    public string? MasterKey { get; set; }

    /// <summary>Comma-separated base64 keys that still unwrap data keys until `-- rotate-keys` runs.</summary>
    public string? RetiredMasterKeys { get; set; }

    public string? PublicBaseUrl { get; set; }

    /// <summary>Largest request body accepted, in bytes (413 beyond).</summary>
    [Range(1024, 64 * 1024 * 1024)] public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Apply migrations at start. Defaults to true on the local cluster and in Development.</summary>
    public bool? MigrateOnStart { get; set; }

    public static void Bind(FrontdeskOptions o, IConfiguration c)
    {
        var section = c.GetSection("Frontdesk");
        section.Bind(o);
        o.DatabaseUrl = c["FRONTDESK_DATABASE_URL"] ?? o.DatabaseUrl;
        o.AppDatabaseUrl = c["FRONTDESK_APP_DATABASE_URL"] ?? o.AppDatabaseUrl;
        o.DataDir = c["FRONTDESK_DATA_DIR"] ?? o.DataDir;
        o.JwtSecret = c["FRONTDESK_JWT_SECRET"] ?? o.JwtSecret;
        o.MasterKey = c["FRONTDESK_MASTER_KEY"] ?? o.MasterKey;
        o.RetiredMasterKeys = c["FRONTDESK_MASTER_KEYS_RETIRED"] ?? o.RetiredMasterKeys;
        o.PublicBaseUrl = c["FRONTDESK_PUBLIC_BASE_URL"] ?? o.PublicBaseUrl;
        if (long.TryParse(c["FRONTDESK_MAX_BODY_BYTES"], out var max)) o.MaxRequestBodyBytes = max;
        if (bool.TryParse(c["FRONTDESK_MIGRATE_ON_START"], out var m)) o.MigrateOnStart = m;
    }

    public static FrontdeskOptions From(IConfiguration c)
    {
        var o = new FrontdeskOptions();
        Bind(o, c);
        return o;
    }
}
