using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Tests.Calls;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Tests.Knowledge;

namespace Frontdesk.Tests.Reception;

/// <summary>What the knowledge base could not answer: gaps recorded, listed, answered and then answered
/// from the knowledge base; advice and emergencies answered by the clinic's own words.</summary>
public class KnowledgeGapTests
{
    static async Task<(string Text, bool Error)> LookupAsync(string secret, string question, string? phone = null, string? call = null) =>
        VapiPayloads.Result(await ReceptionFixtures.VapiJsonAsync(secret,
            VapiPayloads.ToolCall(call ?? Guid.NewGuid().ToString(), phone ?? ReceptionFixtures.NewPhone(), "call_" + Guid.NewGuid().ToString("N"),
                "lookup_knowledge", new { question })));

    static async Task<JsonElement> GapsAsync(Guid clinic, string query = "?status=open", string role = "receptionist")
    {
        using var staff = TestApp.As(clinic, role);
        return await TestClinic.Json(await staff.GetAsync($"/api/clinics/{clinic}/knowledge/gaps{query}"));
    }

    [Fact]
    public async Task A_question_the_knowledge_base_cannot_answer_becomes_a_gap_that_once_answered_is_the_next_callers_answer()
    {
        var (clinic, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: true);

        // Two callers ask the same thing in different words; one asks something the corpus covers.
        var (first, error) = await LookupAsync(secret, "Do you sell gift vouchers for Christmas?");
        Assert.False(error);
        Assert.Contains("passed on to the team", first, StringComparison.Ordinal);
        await LookupAsync(secret, "do you sell gift vouchers for christmas");
        var (covered, _) = await LookupAsync(secret, "How much does a rhinoplasty cost?");
        Assert.Contains("£", covered, StringComparison.Ordinal);

        var gap = Assert.Single((await GapsAsync(clinic)).EnumerateArray());
        Assert.Equal("Do you sell gift vouchers for Christmas?", gap.GetProperty("question").GetString());
        Assert.Equal(2, gap.GetProperty("count").GetInt32());
        Assert.Equal("open", gap.GetProperty("status").GetString());
        Assert.True(gap.GetProperty("lastAskedAt").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
        var id = gap.GetProperty("id").GetGuid();

        using var admin = TestApp.As(clinic, "admin");
        var answered = await TestClinic.Json(await admin.PostAsJsonAsync($"/api/clinics/{clinic}/knowledge/gaps/{id}/answer",
            new { answer = "Yes: gift vouchers from £50 are sold at reception and by phone, valid for twelve months on any treatment." }));
        Assert.Equal("answered", answered.GetProperty("status").GetString());
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from knowledge_documents where clinic_id = $1 and source = $2", clinic, $"gap:{id}"));
        Assert.Empty((await GapsAsync(clinic)).EnumerateArray());
        Assert.Single((await GapsAsync(clinic, "?status=answered")).EnumerateArray());

        // The next caller gets the answer, and no new gap opens.
        var (next, nextError) = await LookupAsync(secret, "do you do gift vouchers");
        Assert.False(nextError);
        Assert.Contains("gift vouchers from £50", next, StringComparison.Ordinal);
        Assert.Empty((await GapsAsync(clinic)).EnumerateArray());
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'knowledge_gap_answered'", clinic));
    }

    [Fact]
    public async Task A_clinic_without_a_knowledge_base_answers_its_first_gap_and_the_next_caller_gets_that_answer()
    {
        // A small base scores every match low (IDF grows with the base): relevance is normalized, so the answer counts.
        var (clinic, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        var (first, _) = await LookupAsync(secret, "Is there parking near you?");
        Assert.Contains("does not cover", first, StringComparison.Ordinal);
        var id = Assert.Single((await GapsAsync(clinic)).EnumerateArray()).GetProperty("id").GetGuid();
        using var admin = TestApp.As(clinic, "admin");
        await TestClinic.Json(await admin.PostAsJsonAsync($"/api/clinics/{clinic}/knowledge/gaps/{id}/answer",
            new { answer = "There is a pay and display car park two minutes away on Weymouth Street." }));

        var (again, _) = await LookupAsync(secret, "Is there parking near you?");
        Assert.Contains("Weymouth Street", again, StringComparison.Ordinal);
        Assert.DoesNotContain("passed on", again, StringComparison.Ordinal);
        var (other, _) = await LookupAsync(secret, "where can I park my car");
        Assert.Contains("Weymouth Street", other, StringComparison.Ordinal);
        Assert.Empty((await GapsAsync(clinic)).EnumerateArray());
        using var receptionist = TestApp.As(clinic, "receptionist");
        var search = await TestClinic.Json(await receptionist.GetAsync($"/api/clinics/{clinic}/knowledge/search?q={Uri.EscapeDataString("Is there parking near you?")}"));
        Assert.Equal($"gap:{id}", search[0].GetProperty("source").GetString());
    }

    [Theory]
    [InlineData(0.4046, 60, 0.1092)]
    [InlineData(0.1040, 1, 0.3615)]
    [InlineData(1.0, 0, 0.0)]
    public void Relevance_divides_the_score_by_the_idf_of_a_word_in_one_chunk(double score, long chunks, double expected) =>
        Assert.Equal(expected, Frontdesk.Reception.KnowledgeTriage.Relevance(score, chunks), 3);

    [Fact]
    public async Task A_gap_keeps_no_personal_detail_the_caller_said()
    {
        var (clinic, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: true);
        await LookupAsync(secret, "My name is Ottoline Brackenbury, do you sell gift vouchers?");
        var gap = Assert.Single((await GapsAsync(clinic)).EnumerateArray());
        Assert.DoesNotContain("Brackenbury", gap.GetProperty("question").GetString(), StringComparison.Ordinal);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from knowledge_gaps where clinic_id = $1 and normalized like '%brackenbury%'", clinic));
    }

    [Fact]
    public async Task Knowledge_base_requests_record_gaps_for_questions_not_for_other_turns()
    {
        var (clinic, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: true);
        var call = Guid.NewGuid().ToString();
        await ReceptionFixtures.VapiJsonAsync(secret, ReceptionFixtures.KnowledgeBaseRequest(call, "yes please that sounds good"));
        await ReceptionFixtures.VapiJsonAsync(secret, ReceptionFixtures.KnowledgeBaseRequest(call, "do you have a cafe in the building"));
        var answered = await ReceptionFixtures.VapiJsonAsync(secret, ReceptionFixtures.KnowledgeBaseRequest(call, "whats the nearest tube station"));
        Assert.True(answered.GetProperty("documents").GetArrayLength() > 0);
        var gap = Assert.Single((await GapsAsync(clinic)).EnumerateArray());
        Assert.Equal("do you have a cafe in the building", gap.GetProperty("question").GetString());
    }

    [Fact]
    public async Task An_emergency_gets_the_emergency_instruction_and_an_urgent_callback_not_the_knowledge_base()
    {
        var (clinic, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: true);
        var phone = ReceptionFixtures.NewPhone();
        var call = Guid.NewGuid().ToString();
        var (text, error) = await LookupAsync(secret, "my face is swelling and I can't breathe properly", phone, call);
        Assert.False(error);
        Assert.Contains("call 999 now", text, StringComparison.Ordinal);
        Assert.Contains("urgently", text, StringComparison.Ordinal);

        using var staff = TestApp.As(clinic, "receptionist");
        var callback = Assert.Single((await TestClinic.Json(await staff.GetAsync($"/api/clinics/{clinic}/callbacks"))).EnumerateArray());
        Assert.Equal("urgent", callback.GetProperty("priority").GetString());
        Assert.Equal("emergency", callback.GetProperty("source").GetString());
        Assert.Equal(phone, callback.GetProperty("phone").GetString());
        Assert.Equal(call, callback.GetProperty("callId").GetString());
        Assert.Empty((await GapsAsync(clinic)).EnumerateArray());

        // The same through knowledge-base-request: one document with the instruction; the callback stays one.
        var kb = await ReceptionFixtures.VapiJsonAsync(secret, ReceptionFixtures.KnowledgeBaseRequest(call, "my face is swelling and I can't breathe properly"));
        var doc = Assert.Single(kb.GetProperty("documents").EnumerateArray());
        Assert.Contains("999", doc.GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from callbacks where clinic_id = $1", clinic));
    }

    [Fact]
    public async Task Personal_clinical_advice_gets_the_clinics_consultation_offer()
    {
        var (clinic, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: true);
        var (defaultOffer, _) = await LookupAsync(secret, "My lips are still swollen a week after filler, is that normal?");
        Assert.Contains("not able to give medical advice", defaultOffer, StringComparison.Ordinal);

        await ReceptionFixtures.PutSettingsAsync(clinic, new
        {
            openingHours = new { }, consultationOffer = "Our nurse Sam can see you for a free review: shall I book you in?",
        });
        var (custom, _) = await LookupAsync(secret, "My lips are still swollen a week after filler, is that normal?");
        Assert.Equal("Our nurse Sam can see you for a free review: shall I book you in?", custom);
        Assert.Empty((await GapsAsync(clinic)).EnumerateArray());
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from callbacks where clinic_id = $1", clinic));
    }

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{"answer": "  "}""")]
    [InlineData("""{"answer": "a\u0000b"}""")]
    [InlineData("""{"answer": 42}""")]
    public async Task A_bad_answer_is_400_and_the_gap_stays_open(string body)
    {
        var (clinic, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        await LookupAsync(secret, "do you sell gift vouchers");
        var id = (await GapsAsync(clinic))[0].GetProperty("id").GetGuid();
        using var admin = TestApp.As(clinic, "admin");
        using var r = await admin.PostAsync($"/api/clinics/{clinic}/knowledge/gaps/{id}/answer", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Contains((await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString(), new[] { Problems.Validation, Problems.MalformedRequest });
        Assert.Single((await GapsAsync(clinic)).EnumerateArray());
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from knowledge_documents where clinic_id = $1", clinic));
    }

    [Fact]
    public async Task Only_an_admin_answers_a_gap_an_unknown_gap_is_404_and_a_bad_filter_is_400()
    {
        var (clinic, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        await LookupAsync(secret, "do you sell gift vouchers");
        var id = (await GapsAsync(clinic, role: "doctor"))[0].GetProperty("id").GetGuid();
        using var receptionist = TestApp.As(clinic, "receptionist");
        using var refused = await receptionist.PostAsJsonAsync($"/api/clinics/{clinic}/knowledge/gaps/{id}/answer", new { answer = "Yes." });
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        using var admin = TestApp.As(clinic, "admin");
        using var unknown = await admin.PostAsJsonAsync($"/api/clinics/{clinic}/knowledge/gaps/{Guid.NewGuid()}/answer", new { answer = "Yes." });
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var filter = await admin.GetAsync($"/api/clinics/{clinic}/knowledge/gaps?status=closed");
        Assert.Equal(HttpStatusCode.BadRequest, filter.StatusCode);
        using var noRole = TestApp.Client(TestApp.Token(RequestClaims.ForClinic(clinic, "no-role")));
        Assert.Equal(HttpStatusCode.Forbidden, (await noRole.GetAsync($"/api/clinics/{clinic}/knowledge/gaps")).StatusCode);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from knowledge_documents where clinic_id = $1", clinic));
    }
}
