using Frontdesk.Platform;
using Frontdesk.Privacy;
using Frontdesk.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Frontdesk.Tests.Privacy;

/// <summary>Numbers as the database knows them: the clinic's keyed hash (issue 13).</summary>
public static class CallerHashes
{
    public static async Task<byte[]> OfAsync(Guid clinicId, string subject)
    {
        var vault = TestApp.Factory.Services.GetRequiredService<Vault>();
        await using var s = await TestApp.Db.BeginAsync(RequestClaims.ForClinic(clinicId, "test", "admin"), default);
        var hash = await vault.CallerHashAsync(s, clinicId, subject, default);
        await s.CommitAsync(default);
        return hash;
    }

    /// <summary>Records an opt-out the way STOP does.</summary>
    public static async Task OptOutAsync(Guid clinicId, string phone, string source = "test") =>
        await TestApp.ExecAsync("insert into sms_opt_outs (clinic_id, phone_hash, source) values ($1, $2, $3)",
            clinicId, await OfAsync(clinicId, CallerSubject.Phone(phone)), source);
}
