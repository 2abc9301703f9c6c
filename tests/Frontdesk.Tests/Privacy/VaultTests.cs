using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Privacy;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Frontdesk.Tests.Privacy;

public class VaultTests
{
    const string SeedSentence = "My address is 123 Harley Street and I have a history of heart issues";

    static async Task<JsonElement> RedactAsync(HttpClient client, TestClinic c, string transcript, int patient = 0, string? callId = null)
    {
        var r = await client.PostAsJsonAsync("/functions/v1/redact_and_store_pii", new { clinicId = c.Id, patientId = c.PatientIds[patient], callId, transcript });
        return await TestClinic.Json(r);
    }

    [Fact]
    public async Task The_seeds_test_case_routes_address_to_contacts_and_history_to_encrypted_clinical_notes()
    {
        var c = await TestClinic.CreateAsync(slots: 0, patients: 1);
        using var client = TestApp.As(c.Id, "receptionist");
        var result = await RedactAsync(client, c, SeedSentence, callId: "call_xyz_123");

        var entities = result.GetProperty("entities").EnumerateArray().ToList();
        var address = Assert.Single(entities, e => e.GetProperty("type").GetString() == "address");
        Assert.Equal("123 Harley Street", address.GetProperty("value").GetString());
        Assert.Equal("contacts", address.GetProperty("table").GetString());
        Assert.False(address.GetProperty("encrypted").GetBoolean());
        Assert.Equal(14, address.GetProperty("startPos").GetInt32());
        Assert.Equal(31, address.GetProperty("endPos").GetInt32());
        var medical = Assert.Single(entities, e => e.GetProperty("type").GetString() == "medical");
        Assert.Equal("[ENCRYPTED]", medical.GetProperty("value").GetString());
        Assert.Equal("clinical_notes", medical.GetProperty("table").GetString());
        Assert.True(medical.GetProperty("encrypted").GetBoolean());
        Assert.Equal("heart issues", SeedSentence[medical.GetProperty("startPos").GetInt32()..medical.GetProperty("endPos").GetInt32()]);

        // ✅ contacts.address = "123 Harley Street"
        Assert.Equal("123 Harley Street", await TestApp.ScalarAsync<string>("select value from contacts where patient_id = $1 and kind = 'address'", c.PatientIds[0]));
        // ✅ clinical_notes.medical_history encrypted: no plaintext at rest
        var cipher = await TestApp.ScalarAsync<byte[]>("select ciphertext from clinical_notes where patient_id = $1 and kind = 'medical'", c.PatientIds[0]);
        Assert.DoesNotContain("heart", Encoding.UTF8.GetString(cipher!), StringComparison.OrdinalIgnoreCase);
        // ✅ public_log = "Patient mentioned health concern and location preference"
        Assert.Equal("Patient mentioned health concern and location preference", result.GetProperty("summary").GetString());
        Assert.Equal("My address is [ADDRESS] and I have a history of [MEDICAL]", result.GetProperty("publicTranscript").GetString());
        Assert.Equal("My address is [ADDRESS] and I have a history of [MEDICAL]",
            await TestApp.ScalarAsync<string>("select public_transcript from public_transcripts where patient_id = $1", c.PatientIds[0]));
        // ✅ audit_trail entries created, one per write, with no value in them
        var audits = await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'created' and entity in ('contacts', 'clinical_notes')", c.Id);
        Assert.Equal(2L, audits);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and (detail::text ilike '%harley%' or detail::text ilike '%heart%')", c.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from audit_verify($1)", c.Id));
    }

    [Fact]
    public async Task Nothing_sensitive_is_stored_in_plaintext_anywhere()
    {
        var c = await TestClinic.CreateAsync(slots: 0, patients: 1);
        using var client = TestApp.As(c.Id, "receptionist");
        const string text = "My NHS number is 943 476 5919, my SSN is 219-09-9999, I'm allergic to penicillin and I take 20 mg of atorvastatin daily.";
        var result = await RedactAsync(client, c, text);
        var types = result.GetProperty("entities").EnumerateArray().Select(e => e.GetProperty("type").GetString()).ToHashSet();
        Assert.Contains("nhs_number", types);
        Assert.Contains("ssn", types);
        Assert.Contains("allergy", types);
        Assert.Contains("medication", types);
        await using var conn = await TestApp.AdminConnectionAsync();
        // Every text and bytea column of every table, read directly as the owner.
        await using var cmd = new Npgsql.NpgsqlCommand("""
            select string_agg(t::text, ' ') from (
              select row_to_json(x)::text as t from secure_identifiers x where patient_id = $1
              union all select row_to_json(x)::text from clinical_notes x where patient_id = $1
              union all select row_to_json(x)::text from public_transcripts x where patient_id = $1
              union all select row_to_json(x)::text from audit_trail x where clinic_id = $2
              union all select row_to_json(x)::text from patient_keys x where patient_id = $1) all_rows
            """, conn);
        cmd.Parameters.AddWithValue(c.PatientIds[0]);
        cmd.Parameters.AddWithValue(c.Id);
        var dump = (string)(await cmd.ExecuteScalarAsync())!;
        foreach (var secret in new[] { "943 476 5919", "9434765919", "219-09-9999", "penicillin", "atorvastatin" })
            Assert.DoesNotContain(secret, dump, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_ciphertext_swapped_into_another_row_fails_to_decrypt()
    {
        var c = await TestClinic.CreateAsync(slots: 0, patients: 1);
        using var client = TestApp.As(c.Id, "receptionist");
        await RedactAsync(client, c, "I have a history of asthma and I'm allergic to peanuts.");
        var ids = await TestApp.ScalarAsync<Guid[]>("select array_agg(id order by kind) from clinical_notes where patient_id = $1", c.PatientIds[0]);
        Assert.Equal(2, ids!.Length);
        using var doctor = TestApp.As(c.Id, "doctor");
        Assert.Equal(HttpStatusCode.OK, (await doctor.GetAsync($"/api/patients/{c.Id}/{c.PatientIds[0]}/clinical-notes")).StatusCode);

        await TestApp.ExecAsync("""
            update clinical_notes n set ciphertext = o.ciphertext
            from clinical_notes o where n.id = $1 and o.id = $2
            """, ids[0], ids[1]);
        await using var s = await TestApp.Db.BeginAsync(RequestClaims.ForClinic(c.Id, "doc", "doctor"), default);
        var vault = TestApp.Factory.Services.GetRequiredService<Vault>();
        await Assert.ThrowsAnyAsync<System.Security.Cryptography.CryptographicException>(() => PrivacyEndpoints.DecryptNotesAsync(s, vault, c.Id, c.PatientIds[0], default));
    }

    [Fact]
    public async Task Receptionist_cannot_decrypt_doctor_can_and_both_are_audited_and_other_clinic_gets_403()
    {
        var c = await TestClinic.CreateAsync(slots: 0, patients: 1);
        var other = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var reception = TestApp.As(c.Id, "receptionist");
        await RedactAsync(reception, c, SeedSentence);

        var denied = await reception.GetAsync($"/api/patients/{c.Id}/{c.PatientIds[0]}/clinical-notes");
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        Assert.DoesNotContain("heart", await denied.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'access_denied'", c.Id));

        using var doctor = TestApp.As(c.Id, "doctor", sub: "doctor_id_42");
        var notes = await TestClinic.Json(await doctor.GetAsync($"/api/patients/{c.Id}/{c.PatientIds[0]}/clinical-notes"));
        Assert.Equal("heart issues", Assert.Single(notes.EnumerateArray()).GetProperty("text").GetString());
        Assert.Equal("doctor_id_42", await TestApp.ScalarAsync<string>(
            "select actor from audit_trail where clinic_id = $1 and action = 'accessed' and entity = 'clinical_notes'", c.Id));

        using var otherDoctor = TestApp.As(other.Id, "doctor");
        Assert.Equal(HttpStatusCode.Forbidden, (await otherDoctor.GetAsync($"/api/patients/{c.Id}/{c.PatientIds[0]}/clinical-notes")).StatusCode);
        var foreignRedact = await otherDoctor.PostAsJsonAsync("/functions/v1/redact_and_store_pii", new { clinicId = c.Id, patientId = c.PatientIds[0], transcript = "I have asthma" });
        Assert.Equal(HttpStatusCode.Forbidden, foreignRedact.StatusCode);
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from clinical_notes where patient_id = $1", c.PatientIds[0]));
    }

    [Fact]
    public async Task Export_returns_everything_decrypted_and_is_audited()
    {
        var c = await TestClinic.CreateAsync(slots: 1, patients: 1);
        using var admin = TestApp.As(c.Id, "admin");
        await RedactAsync(admin, c, "You can email me at jane.doe@example.com. My SSN is 219-09-9999 and I have a history of migraines.");
        await admin.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId = c.SlotIds[0], patientId = c.PatientIds[0], clinicId = c.Id });
        var export = await TestClinic.Json(await admin.GetAsync($"/api/patients/{c.Id}/{c.PatientIds[0]}/export"));
        Assert.Contains(export.GetProperty("contacts").EnumerateArray(), x => x.GetProperty("value").GetString() == "jane.doe@example.com");
        Assert.Contains(export.GetProperty("identifiers").EnumerateArray(), x => x.GetProperty("value").GetString() == "219-09-9999");
        Assert.Contains(export.GetProperty("clinicalNotes").EnumerateArray(), x => x.GetProperty("text").GetString()!.Contains("migraine", StringComparison.Ordinal));
        Assert.Single(export.GetProperty("bookings").EnumerateArray());
        Assert.NotEmpty(export.GetProperty("auditTrail").EnumerateArray());
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'exported'", c.Id));
        using var reception = TestApp.As(c.Id, "receptionist");
        Assert.Equal(HttpStatusCode.Forbidden, (await reception.GetAsync($"/api/patients/{c.Id}/{c.PatientIds[0]}/export")).StatusCode);
    }

    [Fact]
    public async Task Erasure_makes_the_data_unrecoverable_even_with_the_master_key()
    {
        var c = await TestClinic.CreateAsync(slots: 0, patients: 1);
        using var admin = TestApp.As(c.Id, "admin");
        await RedactAsync(admin, c, "My address is 12 Wimpole Street and I'm diabetic, my NHS number is 943 476 5919.");
        // Keep what a backup would hold: the ciphertexts and the wrapped key.
        var noteId = await TestApp.ScalarAsync<Guid>("select id from clinical_notes where patient_id = $1 limit 1", c.PatientIds[0]);
        var noteCipher = await TestApp.ScalarAsync<byte[]>("select ciphertext from clinical_notes where id = $1", noteId);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/patients/{c.Id}/{c.PatientIds[0]}")).StatusCode);

        Assert.Equal(0L, await TestApp.ScalarAsync<long>("""
            select (select count(*) from contacts where patient_id = $1) + (select count(*) from clinical_notes where patient_id = $1)
                 + (select count(*) from secure_identifiers where patient_id = $1) + (select count(*) from public_transcripts where patient_id = $1)
            """, c.PatientIds[0]));
        Assert.Null(await TestApp.ScalarAsync<byte[]>("select wrapped_key from patient_keys where patient_id = $1", c.PatientIds[0]));
        Assert.Null(await TestApp.ScalarAsync<string>("select name from patients where id = $1", c.PatientIds[0]));
        // Restore the ciphertext from the "backup": with the master key still configured, it cannot be read.
        await TestApp.ExecAsync("insert into clinical_notes (id, clinic_id, patient_id, kind, ciphertext) values ($1, $2, $3, 'medical', $4)",
            noteId, c.Id, c.PatientIds[0], noteCipher!);
        await using var s = await TestApp.Db.BeginAsync(RequestClaims.ForClinic(c.Id, "doc", "doctor"), default);
        var vault = TestApp.Factory.Services.GetRequiredService<Vault>();
        Assert.Null(await vault.DecryptorAsync(s, c.Id, c.PatientIds[0], default));
        await Assert.ThrowsAnyAsync<System.Security.Cryptography.CryptographicException>(() => PrivacyEndpoints.DecryptNotesAsync(s, vault, c.Id, c.PatientIds[0], default));
        // The tombstone names no personal data.
        var tomb = await TestApp.ScalarAsync<string>("select detail::text from audit_trail where clinic_id = $1 and action = 'erased'", c.Id);
        Assert.DoesNotContain("Wimpole", tomb!, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync($"/api/patients/{c.Id}/{c.PatientIds[0]}")).StatusCode);
    }

    [Fact]
    public async Task Key_rotation_rewraps_data_keys_and_everything_still_decrypts()
    {
        var c = await TestClinic.CreateAsync(slots: 0, patients: 1);
        using var admin = TestApp.As(c.Id, "admin");
        await RedactAsync(admin, c, "I have a history of asthma.");
        var oldKeyId = await TestApp.ScalarAsync<string>("select key_id from patient_keys where patient_id = $1", c.PatientIds[0]);
        var cipherBefore = await TestApp.ScalarAsync<byte[]>("select ciphertext from clinical_notes where patient_id = $1", c.PatientIds[0]);
        // A caller's sealed value and the clinic's number hashes must survive the rotation too.
        var baseVault = TestApp.Factory.Services.GetRequiredService<Vault>();
        const string number = "+447700900123";
        byte[] hash, sealedValue;
        await using (var s = await TestApp.Db.BeginAsync(RequestClaims.ForClinic(c.Id, "test", "admin"), default))
        {
            hash = await baseVault.CallerHashAsync(s, c.Id, CallerSubject.Phone(number), default);
            sealedValue = await baseVault.SealForCallerAsync(s, c.Id, hash, "test", "row-1", new { note = "kept" }, default);
            await s.CommitAsync(default);
        }

        var newKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var oldKey = TestApp.Factory.Services.GetRequiredService<FrontdeskOptions>().MasterKey!;
        await using var rotated = TestApp.Factory.WithWebHostBuilder(b =>
        {
            b.UseSetting("FRONTDESK_MASTER_KEY", newKey);
            b.UseSetting("FRONTDESK_MASTER_KEYS_RETIRED", oldKey);
            b.ConfigureTestServices(TestApp.WithoutWorkers);
        });
        var vault = rotated.Services.GetRequiredService<Vault>();
        // One clinic's keys: the test database is shared with tests running in parallel under the old key.
        // (`-- rotate-keys` runs RewrapAllAsync: the same loops without the clinic filter.)
        Assert.Equal(3, await vault.RewrapClinicAsync(rotated.Services.GetRequiredService<Db>(), c.Id, default));

        Assert.NotEqual(oldKeyId, await TestApp.ScalarAsync<string>("select key_id from patient_keys where patient_id = $1", c.PatientIds[0]));
        Assert.Equal(cipherBefore, await TestApp.ScalarAsync<byte[]>("select ciphertext from clinical_notes where patient_id = $1", c.PatientIds[0]));
        // Only the new key configured now: still decrypts.
        await using var onlyNew = TestApp.Factory.WithWebHostBuilder(b =>
        {
            b.UseSetting("FRONTDESK_MASTER_KEY", newKey);
            b.ConfigureTestServices(TestApp.WithoutWorkers);
        });
        using var doctor = onlyNew.CreateClient();
        doctor.DefaultRequestHeaders.Authorization = new("Bearer", TestApp.Token(RequestClaims.ForClinic(c.Id, "doc", "doctor")));
        var notes = await TestClinic.Json(await doctor.GetAsync($"/api/patients/{c.Id}/{c.PatientIds[0]}/clinical-notes"));
        Assert.Contains("asthma", notes[0].GetProperty("text").GetString(), StringComparison.Ordinal);
        var newVault = onlyNew.Services.GetRequiredService<Vault>();
        await using (var s = await TestApp.Db.BeginAsync(RequestClaims.ForClinic(c.Id, "test", "admin"), default))
        {
            Assert.Equal(hash, await newVault.CallerHashAsync(s, c.Id, CallerSubject.Phone(number), default));
            var open = await newVault.OpenForCallerAsync(s, c.Id, hash, default);
            Assert.Equal("""{"note":"kept"}""", open!("test", "row-1", sealedValue));
        }
    }

    [Theory]
    [InlineData("", 400)]
    [InlineData("   ", 400)]
    public async Task Bad_transcripts_are_rejected_and_store_nothing(string transcript, int status)
    {
        var c = await TestClinic.CreateAsync(slots: 0, patients: 1);
        using var client = TestApp.As(c.Id, "receptionist");
        var r = await client.PostAsJsonAsync("/functions/v1/redact_and_store_pii", new { clinicId = c.Id, patientId = c.PatientIds[0], transcript });
        Assert.Equal(status, (int)r.StatusCode);
        Assert.Equal(0L, await StoredAsync(c));
    }

    [Fact]
    public async Task Oversized_invalid_utf8_and_unknown_patient_are_clear_4xx_and_store_nothing()
    {
        var c = await TestClinic.CreateAsync(slots: 0, patients: 1);
        using var client = TestApp.As(c.Id, "receptionist");
        var big = await client.PostAsJsonAsync("/functions/v1/redact_and_store_pii",
            new { clinicId = c.Id, patientId = c.PatientIds[0], transcript = string.Concat(Enumerable.Repeat("I have asthma. ", 70_000)) });
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, big.StatusCode);
        Assert.Equal(Problems.PayloadTooLarge, (await big.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());

        var prefix = Encoding.UTF8.GetBytes($"{{\"clinicId\":\"{c.Id}\",\"patientId\":\"{c.PatientIds[0]}\",\"transcript\":\"I have ");
        var bytes = prefix.Concat(new byte[] { 0xC3, 0x28, 0xFF }).Concat(Encoding.UTF8.GetBytes(" asthma\"}")).ToArray();
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new("application/json");
        var invalid = await client.PostAsync("/functions/v1/redact_and_store_pii", content);
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);

        var unknown = await client.PostAsJsonAsync("/functions/v1/redact_and_store_pii", new { clinicId = c.Id, patientId = Guid.NewGuid(), transcript = "I have asthma" });
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(0L, await StoredAsync(c));
    }

    static Task<long> StoredAsync(TestClinic c) => TestApp.ScalarAsync<long>("""
        select (select count(*) from contacts where clinic_id = $1) + (select count(*) from clinical_notes where clinic_id = $1)
             + (select count(*) from secure_identifiers where clinic_id = $1) + (select count(*) from public_transcripts where clinic_id = $1)
        """, c.Id);
}
