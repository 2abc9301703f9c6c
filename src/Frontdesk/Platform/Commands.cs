using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Frontdesk.Platform;

/// <summary>Operator commands: <c>dotnet run --project src/Frontdesk -- migrate</c>. Each prints what
/// went wrong as one line and exits 1; none stops a private cluster it did not start.</summary>
public static class Commands
{
    /// <summary><c>-- migrate</c>: applies pending migrations as the owner (FRONTDESK_DATABASE_URL or the
    /// private cluster). Exit 0 when every migration is applied by either history, 1 otherwise.</summary>
    public static async Task<int> MigrateAsync(string[] args)
    {
        var options = OptionsFrom(args.Skip(1));
        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole());
        var log = loggers.CreateLogger("Frontdesk.Migrate");
        return await ReportFailures(async () =>
        {
            await using var owner = await OwnerDatabase.OpenAsync(options, log, CancellationToken.None);
            var applied = await Migrator.ApplyAsync(owner.ConnectionString, CancellationToken.None);
            await using var conn = new NpgsqlConnection(owner.ConnectionString);
            await conn.OpenAsync();
            var pending = await Migrator.PendingAsync(conn, CancellationToken.None);
            Console.WriteLine(applied.Count == 0 ? "Migrations are current; nothing to apply." : $"Applied {applied.Count}: {string.Join(", ", applied)}.");
            if (pending.Count == 0) return 0;
            Console.Error.WriteLine($"Still pending: {string.Join(", ", pending)}");
            return 1;
        });
    }

    /// <summary><c>-- rotate-keys</c>: re-wraps every patient and caller data key and every clinic's lookup key under FRONTDESK_MASTER_KEY, unwrapping
    /// with the keys in FRONTDESK_MASTER_KEYS_RETIRED. Ciphertexts are not touched.</summary>
    public static Task<int> RotateKeysAsync(string[] args) => ReportFailures(async () =>
    {
        await using var app = Frontdesk.FrontdeskApp.Build(args);
        var vault = app.Services.GetRequiredService<Frontdesk.Privacy.Vault>();
        var count = await vault.RewrapAllAsync(app.Services.GetRequiredService<Db>(), CancellationToken.None);
        Console.WriteLine($"Re-wrapped {count} keys under {app.Services.GetRequiredService<Frontdesk.Privacy.IKeyEncryptionKeys>().CurrentKeyId}.");
        var vapiKeys = await app.Services.GetRequiredService<Frontdesk.Calls.VapiApiKeys>().RewrapAllAsync(app.Services.GetRequiredService<Db>(), CancellationToken.None);
        Console.WriteLine($"Re-sealed {vapiKeys} Vapi API keys.");
        var totp = await app.Services.GetRequiredService<Frontdesk.StaffConsole.StaffAccounts>().RewrapTotpAsync(null, CancellationToken.None);
        Console.WriteLine($"Re-wrapped {totp} staff two-step sign-in secrets.");
        return 0;
    });

    public const string PasswordStdin = "--password-stdin";

    /// <summary>
    /// <c>-- app-login --password-stdin</c>: gives the request-path login frontdesk_app the password read
    /// from standard input (one line), as the owner (FRONTDESK_DATABASE_URL). The SCRAM-SHA-256 verifier
    /// is computed here, as psql's \password does, so the password itself never reaches the server or
    /// its statement log. With FRONTDESK_APP_DATABASE_URL set, it then logs in with that URL to prove it.
    /// </summary>
    public static async Task<int> AppLoginAsync(string[] args, TextReader stdin)
    {
        if (!args.Contains(PasswordStdin))
        {
            Console.Error.WriteLine($"Usage: printf '%s' \"$PASSWORD\" | dotnet run --project src/Frontdesk -- app-login {PasswordStdin}");
            return 1;
        }
        var options = OptionsFrom(args.Skip(1).Where(a => a != PasswordStdin));
        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole());
        var log = loggers.CreateLogger("Frontdesk.AppLogin");
        return await ReportFailures(async () =>
        {
            var password = (await stdin.ReadLineAsync())?.TrimEnd('\r') ?? "";
            if (PasswordProblem(password) is { } problem)
            {
                Console.Error.WriteLine(problem);
                return 1;
            }
            await using var owner = await OwnerDatabase.OpenAsync(options, log, CancellationToken.None);
            await using (var conn = new NpgsqlConnection(owner.ConnectionString))
            {
                await conn.OpenAsync();
                await using var exists = new NpgsqlCommand("select 1 from pg_roles where rolname = 'frontdesk_app'", conn);
                if (await exists.ExecuteScalarAsync() is null)
                {
                    Console.Error.WriteLine("Role frontdesk_app does not exist yet: apply the migrations first (`supabase db push` or `-- migrate`).");
                    return 1;
                }
                // A literal, not a parameter: ALTER ROLE takes none. The verifier is base64, digits, '$' and ':'.
                await using var alter = new NpgsqlCommand($"alter role frontdesk_app with login password '{ScramVerifier(password)}'", conn);
                await alter.ExecuteNonQueryAsync();
            }
            Console.WriteLine("frontdesk_app has its new password.");
            if (string.IsNullOrWhiteSpace(options.AppDatabaseUrl))
            {
                Console.WriteLine("Set FRONTDESK_APP_DATABASE_URL to a URL with user frontdesk_app and this password (README, \"Deploy on Supabase\").");
                return 0;
            }
            await using (var app = new NpgsqlConnection(DatabaseHost.ToConnectionString(options.AppDatabaseUrl)))
                await app.OpenAsync();
            Console.WriteLine("FRONTDESK_APP_DATABASE_URL logs in.");
            return 0;
        });
    }

    /// <summary>Why a password is refused, or null. Printable ASCII only: PostgreSQL and Npgsql then
    /// agree on its bytes (SASLprep leaves ASCII as it is).</summary>
    public static string? PasswordProblem(string password) =>
        password.Length < 16 ? "The password must be at least 16 characters (e.g. openssl rand -base64 32)."
        : password.Any(c => c is < '!' or > '~') ? "The password must be printable ASCII without spaces (e.g. openssl rand -base64 32)."
        : null;

    /// <summary>PostgreSQL's stored form of a SCRAM-SHA-256 password (RFC 5802/7677):
    /// <c>SCRAM-SHA-256$iterations:salt$StoredKey:ServerKey</c>.</summary>
    public static string ScramVerifier(string password, int iterations = 4096, byte[]? salt = null)
    {
        salt ??= RandomNumberGenerator.GetBytes(16);
        var salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, 32);
        var clientKey = HMACSHA256.HashData(salted, "Client Key"u8);
        var storedKey = SHA256.HashData(clientKey);
        var serverKey = HMACSHA256.HashData(salted, "Server Key"u8);
        return $"SCRAM-SHA-256${iterations}:{Convert.ToBase64String(salt)}${Convert.ToBase64String(storedKey)}:{Convert.ToBase64String(serverKey)}";
    }

    static FrontdeskOptions OptionsFrom(IEnumerable<string> args) =>
        FrontdeskOptions.From(new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(args.ToArray()).Build());

    /// <summary>Start-up problems and database errors as one line on stderr and exit code 1.</summary>
    static async Task<int> ReportFailures(Func<Task<int>> command)
    {
        try
        {
            return await command();
        }
        catch (Exception e) when (StartupException.Describe(e) is { } line)
        {
            Console.Error.WriteLine(line);
            return 1;
        }
        catch (PostgresException e)
        {
            Console.Error.WriteLine($"PostgreSQL refused: {e.SqlState} {e.MessageText}");
            return 1;
        }
        catch (NpgsqlException e)
        {
            Console.Error.WriteLine($"Could not reach PostgreSQL: {e.Message}");
            return 1;
        }
    }
}
