using Npgsql;

namespace Frontdesk.StaffConsole;

public sealed record StaffAddArgs(Guid ClinicId, string Email, string Role, string DisplayName, bool PasswordFromStdin);

/// <summary>
/// <c>dotnet run --project src/Frontdesk -- staff add --clinic &lt;id&gt; --email &lt;address&gt; --role admin|receptionist|doctor
/// [--name "…"] [--password-stdin]</c>: creates a clinic's staff account (the first admin, typically)
/// and prints a one-time password, or takes one from standard input. Either way it must be changed at
/// first sign-in. Runs in the clinic's tenant transaction (RLS applies), as actor <c>operator:staff-add</c>.
/// </summary>
public static class StaffCommand
{
    public const string Usage = "usage: staff add --clinic <clinic id> --email <address> --role admin|receptionist|doctor [--name \"Display Name\"] [--password-stdin]";

    public static async Task<int> RunAsync(string[] args, TextReader stdin, TextWriter stdout)
    {
        if (Parse(args, out var error) is not { } parsed)
        {
            await stdout.WriteLineAsync(error + Environment.NewLine + Usage);
            return 2;
        }
        // Configuration from the environment only: the command's own switches are not settings.
        await using var app = Frontdesk.FrontdeskApp.Build([]);
        return await AddAsync(app.Services, parsed, stdin, stdout, CancellationToken.None);
    }

    public static StaffAddArgs? Parse(string[] args, out string? error)
    {
        error = null;
        if (args is not ["add", .. var rest]) { error = "Unknown staff command."; return null; }
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var stdin = false;
        for (var i = 0; i < rest.Length; i++)
        {
            switch (rest[i])
            {
                case "--password-stdin":
                    stdin = true;
                    break;
                case "--clinic" or "--email" or "--role" or "--name" when i + 1 < rest.Length:
                    values[rest[i][2..]] = rest[++i];
                    break;
                default:
                    error = $"Unexpected argument '{rest[i]}'.";
                    return null;
            }
        }
        if (!values.TryGetValue("clinic", out var c) || !Guid.TryParse(c, out var clinicId)) { error = "--clinic <id> is required (a clinic's UUID)."; return null; }
        if (StaffAccounts.NormalizeEmail(values.GetValueOrDefault("email")) is not { } email) { error = "--email <address> is required and must be a valid address."; return null; }
        if (values.GetValueOrDefault("role") is not { } role || !StaffRoles.IsKnown(role)) { error = "--role is admin, receptionist or doctor."; return null; }
        var name = values.GetValueOrDefault("name")?.Trim() is { Length: > 0 and <= 200 } n ? n : email.Split('@')[0];
        return new StaffAddArgs(clinicId, email, role, name, stdin);
    }

    public static async Task<int> AddAsync(IServiceProvider services, StaffAddArgs a, TextReader stdin, TextWriter stdout, CancellationToken ct)
    {
        var staff = services.GetRequiredService<StaffAccounts>();
        string? password = null;
        if (a.PasswordFromStdin)
        {
            password = (await stdin.ReadLineAsync(ct))?.TrimEnd('\r', '\n');
            if (staff.PasswordProblem(password) is { } problem)
            {
                await stdout.WriteLineAsync("The password from standard input is not acceptable: " + problem);
                return 2;
            }
        }
        var db = services.GetRequiredService<Db>();
        var claims = RequestClaims.ForClinic(a.ClinicId, "operator:staff-add", StaffRoles.Admin);
        try
        {
            var result = await db.InTransactionAsync<(string, CreatedStaff)?>(claims, async s =>
            {
                var clinic = await s.QuerySingleOrDefaultAsync<string>("select name from clinics where id = @Id", new { Id = a.ClinicId }, ct);
                return clinic is null ? null : (clinic, await staff.CreateAsync(s, a.ClinicId, a.Email, a.DisplayName, a.Role, password, claims.Subject!, ct));
            }, ct);
            if (result is not var (clinicName, created))
            {
                await stdout.WriteLineAsync($"No clinic {a.ClinicId}.");
                return 1;
            }
            await stdout.WriteLineAsync($"Created {a.Role} account {a.Email} ({a.DisplayName}) for {clinicName}.");
            await stdout.WriteLineAsync(created.OneTimePassword is { } otp
                ? $"One-time password (shown once; it must be changed at first sign-in): {otp}"
                : "The password from standard input must be changed at first sign-in.");
            var baseUrl = services.GetRequiredService<FrontdeskOptions>().PublicBaseUrl?.TrimEnd('/') ?? "<your Frontdesk address>";
            await stdout.WriteLineAsync("Sign in at " + baseUrl + ConsoleRoutes.SignIn);
            return 0;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            await stdout.WriteLineAsync($"{a.Email} already has an account in clinic {a.ClinicId}.");
            return 1;
        }
    }
}
