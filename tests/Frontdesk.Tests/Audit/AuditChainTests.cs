using System.Net.Http.Json;
using Frontdesk.Tests.Infrastructure;

namespace Frontdesk.Tests.Audit;

public class AuditChainTests
{
    [Fact]
    public async Task Chain_verifies_and_is_served_newest_first()
    {
        var c = await TestClinic.CreateAsync(slots: 3, patients: 2);
        using var client = TestApp.As(c.Id);
        await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = c.SlotIds[0], patientId = c.PatientIds[0], clinicId = c.Id });
        await AuditWait.SealedAsync(c.Id);
        var trail = await TestClinic.Json(await client.GetAsync($"/api/clinics/{c.Id}/audit"));
        var seqs = trail.EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()).ToList();
        Assert.True(seqs.Count >= 5);
        Assert.Equal(seqs.OrderDescending(), seqs);
        Assert.Equal("created", trail[0].GetProperty("action").GetString());
        Assert.Equal("booking", trail[0].GetProperty("entity").GetString());
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from audit_verify($1)", c.Id));
    }

    [Fact]
    public async Task Concurrent_appends_keep_one_unbroken_chain()
    {
        var c = await TestClinic.CreateAsync(slots: 20, patients: 20);
        await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            using var client = TestApp.As(c.Id);
            (await client.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = c.SlotIds[i], patientId = c.PatientIds[i], clinicId = c.Id })).EnsureSuccessStatusCode();
        }));
        await AuditWait.SealedAsync(c.Id);
        Assert.Equal(20L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'created' and entity = 'booking' and seq is not null", c.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from audit_verify($1)", c.Id));
    }

    [Fact]
    public async Task Tampering_with_a_row_as_owner_is_detected_at_that_row()
    {
        var c = await TestClinic.CreateAsync(slots: 2, patients: 2);
        await AuditWait.SealedAsync(c.Id);
        var seq = await TestApp.ScalarAsync<long>("select min(seq) + 1 from audit_trail where clinic_id = $1", c.Id);
        await TestApp.ExecAsync("update audit_trail set actor = 'someone-else' where clinic_id = $1 and seq = $2", c.Id, seq);
        Assert.Equal(seq, await TestApp.ScalarAsync<long>("select broken_seq from audit_verify($1)", c.Id));
        Assert.Equal("content does not match its hash", await TestApp.ScalarAsync<string>("select reason from audit_verify($1)", c.Id));
    }

    [Fact]
    public async Task Deleting_a_row_as_owner_is_detected()
    {
        var c = await TestClinic.CreateAsync(slots: 2, patients: 2);
        await AuditWait.SealedAsync(c.Id);
        var seq = await TestApp.ScalarAsync<long>("select min(seq) + 1 from audit_trail where clinic_id = $1", c.Id);
        await TestApp.ExecAsync("delete from audit_trail where clinic_id = $1 and seq = $2", c.Id, seq);
        Assert.Equal(seq, await TestApp.ScalarAsync<long>("select broken_seq from audit_verify($1)", c.Id));
    }

    [Fact]
    public async Task The_application_cannot_update_or_delete_audit_rows()
    {
        var c = await TestClinic.CreateAsync(slots: 0, patients: 1);
        await using var s = await TestApp.Db.BeginAsync(Frontdesk.Platform.RequestClaims.ForClinic(c.Id, "x", "admin"), default);
        var e = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => s.ExecuteAsync("update audit_trail set actor = 'x' where clinic_id = @C", new { C = c.Id }));
        Assert.Equal(Npgsql.PostgresErrorCodes.InsufficientPrivilege, e.SqlState);
    }
}
