using Frontdesk.Audit;

namespace Frontdesk.Tenancy;

/// <summary>
/// Development only: a demo clinic with a practitioner, a week of slots, and ready-to-use tokens
/// printed to the console (not the log), so a newcomer can call the API at once.
/// </summary>
public sealed class DevBootstrap(Db db, DevSecrets secrets, FrontdeskOptions options, IHostEnvironment env,
    Microsoft.AspNetCore.Hosting.Server.IServer server, Microsoft.Extensions.Options.IOptions<JwtOptions> jwt, Frontdesk.StaffConsole.StaffAccounts staff) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var ct = cancellationToken;
        if (!env.IsDevelopment() || !string.IsNullOrWhiteSpace(options.DatabaseUrl)) return;
        var claims = RequestClaims.AsSystem(SystemPath.AdminBootstrap);
        var clinicId = await db.InTransactionAsync(claims, async s =>
        {
            var existing = await s.QuerySingleOrDefaultAsync<Guid?>("select id from clinics where name = 'Demo Clinic' order by created_at limit 1", null, ct);
            if (existing is { } id) return id;
            var created = await s.QuerySingleOrDefaultAsync<Guid>(
                "insert into clinics (name, timezone, vapi_secret) values ('Demo Clinic', 'Europe/London', @Secret) returning id",
                new { Secret = secrets.FromFile("demo-vapi-secret", 24) }, ct);
            var practitioner = await s.QuerySingleOrDefaultAsync<Guid>(
                "insert into practitioners (clinic_id, name) values (@Id, 'Dr Ada Lovelace') returning id", new { Id = created }, ct);
            await s.ExecuteAsync("""
                insert into calendar_slots (clinic_id, practitioner_id, starts_at, ends_at)
                select @Id, @P, d + interval '9 hours' + h * interval '30 minutes', d + interval '9 hours' + (h + 1) * interval '30 minutes'
                from generate_series(date_trunc('day', now()) + interval '1 day', date_trunc('day', now()) + interval '7 days', interval '1 day') d,
                     generate_series(0, 15) h
                """, new { Id = created, P = practitioner }, ct);
            await AuditLog.WriteAsync(s, created, "clinic_created", "clinic", created.ToString(), new { name = "Demo Clinic" }, ct);
            return created;
        }, ct);

        // Demo staff for the console: one per role, a development password kept under the data dir,
        // no forced change (a newcomer signs in at once). Created in the clinic's tenant transaction.
        var staffPassword = secrets.FromFile("demo-staff-password", 12);
        string[] roles = ["admin", "receptionist", "doctor"];
        await db.InTransactionAsync(RequestClaims.ForClinic(clinicId, "dev-bootstrap", "admin"), async s =>
        {
            var existing = await s.QueryAsync<string>("select email from staff_accounts where clinic_id = @C", new { C = clinicId }, ct);
            foreach (var role in roles.Where(r => !existing.Contains($"{r}@demo.clinic")))
            {
                var created = await staff.CreateAsync(s, clinicId, $"{role}@demo.clinic", $"Demo {role}", role, staffPassword, "dev-bootstrap", ct);
                await s.ExecuteAsync("update staff_accounts set must_change_password = false where clinic_id = @C and id = @Id", new { C = clinicId, created.Id }, ct);
            }
            return 0;
        }, ct);

        var secret = secrets.JwtSecret();
        var lifetime = TimeSpan.FromDays(30);
        // With FRONTDESK_JWT_ISSUER set, the printed tokens must pass the issuer check too.
        var issuer = jwt.Value.Issuers is [var first, ..] ? first : null;
        var baseUrl = options.PublicBaseUrl ?? server.Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "http://127.0.0.1:5080";
        Console.WriteLine($"""

            Frontdesk development server — demo clinic {clinicId}
              JWT secret file: {Path.GetFullPath(Path.Combine(options.DataDir, "jwt-secret"))}
              service_role : {Auth.Mint(secret, new RequestClaims(RequestClaims.ServiceRole, null, "dev-service", null), lifetime, issuer)}
              admin        : {Auth.Mint(secret, RequestClaims.ForClinic(clinicId, "dev-admin", "admin"), lifetime, issuer)}
              receptionist : {Auth.Mint(secret, RequestClaims.ForClinic(clinicId, "dev-receptionist", "receptionist"), lifetime, issuer)}
              doctor       : {Auth.Mint(secret, RequestClaims.ForClinic(clinicId, "dev-doctor", "doctor"), lifetime, issuer)}
              try: curl -H "Authorization: Bearer <admin>" {baseUrl}/functions/v1/get_clinic_data
              staff console: {baseUrl}/console — admin@demo.clinic, receptionist@demo.clinic or doctor@demo.clinic, password {staffPassword}

            """);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
