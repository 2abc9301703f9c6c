using System.Net;
using System.Text.Json;

namespace Frontdesk.Bench.Validate;

/// <summary>Seed Task 3: security and compliance redline test.</summary>
public static class Task3Privacy
{
    const string Seed = "My address is 123 Harley Street and I have a history of heart issues";

    const string Longer = "Hi, this is Eleanor Whitfield. You can reach me on 07700 900461 or eleanor.whitfield@example.co.uk. " +
                          "I live at Flat 3, 27 Devonshire Place, London W1G 6HX. I was born on 14 March 1979 and my NHS number is 943 476 5919. " +
                          "I was diagnosed with hypertension last year, I'm allergic to penicillin and I take 10 mg of amlodipine.";

    public static async Task RunAsync(ValidationRun run)
    {
        var s = new Section("task3", "Task 3: Security & Compliance Redline Test");
        run.Report.Sections.Add(s);
        run.Progress("▶ Task 3: PII routing, encryption, audit …");
        var c = await run.CreateClinicAsync("t3", slots: 0, patients: 2);
        var agent = run.Api.Token(c.Id, "receptionist", "vapi_agent");

        var r = await run.Api.PostAsync("/functions/v1/redact_and_store_pii", agent,
            new { clinicId = c.Id, patientId = c.Patients[0], callId = "call_validate_t3", transcript = Seed });
        var entities = r.Ok ? r.Body.GetProperty("entities").EnumerateArray().ToList() : [];
        JsonElement? Find(string type) => entities.Cast<JsonElement?>().FirstOrDefault(e => e!.Value.GetProperty("type").GetString() == type);
        var address = Find("address");
        var medical = Find("medical");

        var addressOk = address is { } a && a.GetProperty("value").GetString() == "123 Harley Street" && a.GetProperty("table").GetString() == "contacts" && !a.GetProperty("encrypted").GetBoolean();
        var medicalOk = medical is { } m && m.GetProperty("value").GetString() == "[ENCRYPTED]" && m.GetProperty("table").GetString() == "clinical_notes" && m.GetProperty("encrypted").GetBoolean();
        s.Block.Add($"Input: \"{Seed}\"");
        s.Block.Add($"{(addressOk ? "✅" : "❌")} contacts.address = \"{address?.GetProperty("value").GetString()}\"");
        s.Block.Add($"{(medicalOk ? "✅" : "❌")} clinical_notes.medical_history = \"{medical?.GetProperty("value").GetString()}\"");

        // Read back: a doctor decrypts, a receptionist cannot.
        var doctor = await run.Api.GetAsync($"/api/patients/{c.Id}/{c.Patients[0]}/clinical-notes", run.Api.Token(c.Id, "doctor", "doctor_validate"));
        var doctorText = doctor.Ok ? string.Join("; ", doctor.Body.EnumerateArray().Select(n => n.GetProperty("text").GetString())) : "";
        var reception = await run.Api.GetAsync($"/api/patients/{c.Id}/{c.Patients[0]}/clinical-notes", run.Api.Token(c.Id, "receptionist"));
        var atRestPlain = await run.SqlAsync<long>("select count(*) from clinical_notes where patient_id = $1 and position(convert_to('heart', 'UTF8') in ciphertext) > 0", c.Patients[0]);
        s.Check("Medical data encrypted in clinical_notes", medicalOk && doctorText.Contains("heart issues", StringComparison.Ordinal) && reception.Status == HttpStatusCode.Forbidden && atRestPlain == 0,
            $"value \"[ENCRYPTED]\"; doctor reads \"{doctorText}\"; receptionist {(int)reception.Status}" + (run.DatabaseUrl is null ? "" : $"; plaintext at rest: {atRestPlain} rows"));
        s.Check("Contact data in contacts (not encrypted)", addressOk, $"address \"{address?.GetProperty("value").GetString()}\" → contacts, encrypted=false");

        var summary = r.Ok ? r.Body.GetProperty("summary").GetString() : null;
        var publicTranscript = r.Ok ? r.Body.GetProperty("publicTranscript").GetString() ?? "" : "";
        s.Block.Add($"{(summary == "Patient mentioned health concern and location preference" ? "✅" : "❌")} public_log = \"{summary}\"");
        s.Check("Public log sanitized", summary == "Patient mentioned health concern and location preference"
                                        && !publicTranscript.Contains("Harley", StringComparison.Ordinal) && !publicTranscript.Contains("heart", StringComparison.Ordinal),
            $"summary \"{summary}\"; public transcript \"{publicTranscript}\"");

        // A longer transcript with every kind of data, timed.
        var longer = await run.Api.PostAsync("/functions/v1/redact_and_store_pii", agent,
            new { clinicId = c.Id, patientId = c.Patients[1], callId = "call_validate_t3b", transcript = Longer });
        var types = longer.Ok ? longer.Body.GetProperty("entities").EnumerateArray().Select(e => e.GetProperty("type").GetString()!).ToHashSet() : [];
        var expected = new[] { "name", "phone", "email", "address", "date_of_birth", "nhs_number", "medical", "allergy", "medication" };
        var leaked = longer.Ok && longer.Body.GetProperty("entities").EnumerateArray()
            .Any(e => e.GetProperty("encrypted").GetBoolean() && e.GetProperty("value").GetString() != "[ENCRYPTED]");
        var timings = new List<double>();
        for (var i = 0; i < 20; i++)
            timings.Add((await run.Api.PostAsync("/functions/v1/redact_and_store_pii", agent,
                new { clinicId = c.Id, patientId = c.Patients[1], transcript = Longer })).Ms);
        s.Metrics["piiP95Ms"] = Stats.Percentile(timings, 95);

        var trail = await run.Api.GetAsync($"/api/clinics/{c.Id}/audit?limit=1000", run.Api.Token(c.Id, "admin"));
        var actions = trail.Ok ? trail.Body.EnumerateArray().Select(e => $"{e.GetProperty("action").GetString()}:{e.GetProperty("entity").GetString()}").ToList() : [];
        var created = actions.Count(a => a is "created:contacts" or "created:clinical_notes" or "created:secure_identifiers");
        var storedEntities = (r.Ok ? entities.Count : 0) + (longer.Ok ? longer.Body.GetProperty("entities").GetArrayLength() * 21 : 0);
        s.Block.Add($"{(created >= storedEntities && storedEntities > 0 ? "✅" : "❌")} audit_trail entries created ({created})");
        s.Check("Audit trail complete", created >= storedEntities && storedEntities > 0 && actions.Contains("accessed:clinical_notes") && actions.Contains("access_denied:clinical_notes"),
            $"{created} 'created' rows for {storedEntities} stored entities; doctor read audited: {actions.Contains("accessed:clinical_notes")}; refusal audited: {actions.Contains("access_denied:clinical_notes")}");

        // GDPR: access, then erasure.
        var admin = run.Api.Token(c.Id, "admin");
        var export = await run.Api.GetAsync($"/api/patients/{c.Id}/{c.Patients[1]}/export", admin);
        var exportHasAll = export.Ok && ValidationRun.Count(export.Body.GetProperty("clinicalNotes")) > 0 && ValidationRun.Count(export.Body.GetProperty("identifiers")) > 0;
        var erase = await run.Api.SendAsync(HttpMethod.Delete, $"/api/patients/{c.Id}/{c.Patients[1]}", admin);
        var after = await run.Api.GetAsync($"/api/patients/{c.Id}/{c.Patients[1]}/export", admin);
        var erased = after.Ok && ValidationRun.Count(after.Body.GetProperty("clinicalNotes")) == 0 && ValidationRun.Count(after.Body.GetProperty("contacts")) == 0
                     && ValidationRun.Count(after.Body.GetProperty("identifiers")) == 0;
        s.Check("GDPR compliant", expected.All(types.Contains) && !leaked && exportHasAll && erase.Status == HttpStatusCode.NoContent && erased,
            $"longer transcript: {types.Count(expected.Contains)}/{expected.Length} kinds detected, routed, none leaked; export {(int)export.Status}; erasure {(int)erase.Status}, nothing left after: {erased}; redact+store {Stats.Summary(timings)}");
        s.Block.Add($"{(s.Checks.Last().Pass ? "✅" : "❌")} GDPR compliant routing");
    }
}
