using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Frontdesk.Knowledge;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;

namespace Frontdesk.Tests.Knowledge;

public class KnowledgeSearchTests
{
    [Fact]
    public void Markdown_is_split_along_headings_and_paragraphs_with_the_heading_path()
    {
        var chunks = Chunker.Split(File.ReadAllText(Path.Combine(KnowledgeFixtures.CorpusDir, "rhinoplasty.md")));
        Assert.Equal(["", "Price", "Recovery", "Who is suitable", "Risks"], chunks.Select(c => c.Heading));
        Assert.StartsWith("**Price.** Surgical rhinoplasty starts from £6,500", chunks[1].Body, StringComparison.Ordinal);

        var list = Chunker.Split("# Prep\n\n## Before\n\n- **Fasting.** No food\n  for six hours.\n- **Tests.** Bloods.\n\nLast words.");
        Assert.Equal(["Before > Fasting", "Before > Tests", "Before"], list.Select(c => c.Heading));
        Assert.Equal("**Fasting.** No food for six hours.", list[0].Body);
        Assert.Equal("Prep", Chunker.FirstH1("# Prep\n\n## Before"));
    }

    [Fact]
    public void A_paragraph_longer_than_the_limit_is_cut_at_sentence_ends_without_losing_text()
    {
        var sentence = "This sentence is about forty characters. ";
        var text = string.Concat(Enumerable.Repeat(sentence, 100));
        var chunks = Chunker.Split(text);
        Assert.True(chunks.Count > 1);
        Assert.All(chunks, c => Assert.True(c.Body.Length <= Chunker.MaxChunkChars));
        Assert.Equal(text.Replace(" ", "", StringComparison.Ordinal), string.Concat(chunks.Select(c => c.Body.Replace(" ", "", StringComparison.Ordinal))));
    }

    [Theory]
    [InlineData("How much does a rhinoplasty cost?", "rhinoplasty.md")]
    [InlineData("how much is it to get a nose job", "rhinoplasty.md")]
    [InlineData("what do you charge for a boob job", "breast-augmentation.md")]
    [InlineData("um how much is botox for like two areas", "injectables.md")]
    [InlineData("whats the nearest tube station", "visiting-us.md")]
    [InlineData("are you open saturdays", "visiting-us.md")]
    [InlineData("can I pay monthly", "payment-and-finance.md")]
    [InlineData("how much are lip filers", "injectables.md")]
    [InlineData("how much is rhinoplasy", "rhinoplasty.md")]
    [InlineData("am I talking to a robot", "privacy-and-calls.md")]
    public async Task Caller_questions_find_the_right_document_in_the_top_three(string question, string expected)
    {
        var (clinic, _) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: true);
        using var client = TestApp.As(clinic, "receptionist");
        var results = await client.GetFromJsonAsync<JsonElement>($"/api/clinics/{clinic}/knowledge/search?q={Uri.EscapeDataString(question)}&k=3");
        var sources = results.EnumerateArray().Select(r => r.GetProperty("source").GetString()).ToList();
        Assert.Contains(expected, sources);
        var scores = results.EnumerateArray().Select(r => r.GetProperty("score").GetDouble()).ToList();
        Assert.Equal(scores.OrderByDescending(s => s), scores);
        var first = results[0];
        Assert.False(string.IsNullOrEmpty(first.GetProperty("title").GetString()));
        Assert.DoesNotContain("**", first.GetProperty("text").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Posting_the_same_source_again_replaces_the_document()
    {
        var (clinic, _) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        using var admin = TestApp.As(clinic);
        var first = await TestClinic.Json(await admin.PostAsJsonAsync($"/api/clinics/{clinic}/knowledge/documents",
            new { title = "Parking", source = "parking.md", content = "# Parking\n\nThe zebra car park is next door.\n\nIt is open late." }));
        Assert.Equal(2, first.GetProperty("chunks").GetInt32());
        var second = await TestClinic.Json(await admin.PostAsJsonAsync($"/api/clinics/{clinic}/knowledge/documents",
            new { title = "Parking", source = "parking.md", content = "# Parking\n\nThe giraffe car park is across the road." }));
        Assert.Equal(first.GetProperty("id").GetGuid(), second.GetProperty("id").GetGuid());
        Assert.Equal(1, second.GetProperty("chunks").GetInt32());

        Assert.Empty((await admin.GetFromJsonAsync<JsonElement>($"/api/clinics/{clinic}/knowledge/search?q=zebra")).EnumerateArray());
        var giraffe = await admin.GetFromJsonAsync<JsonElement>($"/api/clinics/{clinic}/knowledge/search?q=giraffe");
        Assert.Equal("parking.md", Assert.Single(giraffe.EnumerateArray()).GetProperty("source").GetString());
        // The document frequencies follow the replacement: no lexeme of the old text is left.
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from knowledge_lexemes where clinic_id = $1 and lexeme = 'zebra'", clinic));
        Assert.Equal(1, await TestApp.ScalarAsync<int>("select df from knowledge_lexemes where clinic_id = $1 and lexeme = 'park'", clinic));
    }

    [Fact]
    public async Task A_clinic_synonym_expands_the_callers_words()
    {
        var (clinic, _) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: true);
        using var admin = TestApp.As(clinic);
        var before = await admin.GetFromJsonAsync<JsonElement>($"/api/clinics/{clinic}/knowledge/search?q=snoot+sculpting&k=3");
        Assert.Empty(before.EnumerateArray());
        await TestClinic.Json(await admin.PostAsJsonAsync($"/api/clinics/{clinic}/knowledge/synonyms", new { phrase = "Snoot sculpting", expansion = "rhinoplasty" }));
        var after = await admin.GetFromJsonAsync<JsonElement>($"/api/clinics/{clinic}/knowledge/search?q=snoot+sculpting&k=3");
        Assert.Contains("rhinoplasty.md", after.EnumerateArray().Select(r => r.GetProperty("source").GetString()));
    }

    [Fact]
    public async Task Bad_input_is_rejected_with_problems_and_stores_nothing()
    {
        var (clinic, _) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        using var admin = TestApp.As(clinic);
        var url = $"/api/clinics/{clinic}/knowledge/documents";

        async Task Expect(HttpResponseMessage r, HttpStatusCode status, string type)
        {
            Assert.Equal(status, r.StatusCode);
            Assert.Equal("https://frontdesk.dev/problems/" + type, (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
        }

        await Expect(await admin.GetAsync($"/api/clinics/{clinic}/knowledge/search?q="), HttpStatusCode.BadRequest, "validation");
        await Expect(await admin.GetAsync($"/api/clinics/{clinic}/knowledge/search?q=%20%20"), HttpStatusCode.BadRequest, "validation");
        await Expect(await admin.GetAsync($"/api/clinics/{clinic}/knowledge/search?q=botox&k=0"), HttpStatusCode.BadRequest, "validation");
        await Expect(await admin.GetAsync($"/api/clinics/{clinic}/knowledge/search?q={new string('a', 501)}"), HttpStatusCode.BadRequest, "validation");
        await Expect(await admin.PostAsJsonAsync(url, new { title = "Big", source = "big.md", content = new string('x', KnowledgeStore.MaxDocumentBytes + 1) }),
            HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        await Expect(await admin.PostAsJsonAsync(url, new { title = "", source = "a.md", content = "text" }), HttpStatusCode.BadRequest, "validation");
        await Expect(await admin.PostAsJsonAsync(url, new { title = "T", source = "a.md", content = "  " }), HttpStatusCode.BadRequest, "validation");
        // NUL is refused at binding, for every string member of every body (issue 14), before the handler's own check.
        await Expect(await admin.PostAsJsonAsync(url, new { title = "T", source = "a.md", content = "nul\0byte" }), HttpStatusCode.BadRequest, "malformed-request");
        // A lone surrogate escape is not text: the JSON reader refuses it.
        await Expect(await admin.PostAsync(url, new StringContent("""{"title":"T","source":"a.md","content":"\ud800"}""", Encoding.UTF8, "application/json")),
            HttpStatusCode.BadRequest, "malformed-request");
        // Bytes that are not UTF-8 at all (Latin-1 "café" with a raw 0xE9).
        var latin1 = new ByteArrayContent([.. Encoding.ASCII.GetBytes("""{"title":"T","source":"a.md","content":"caf"""), 0xE9, .. Encoding.ASCII.GetBytes("\"}")]);
        latin1.Headers.ContentType = new("application/json");
        await Expect(await admin.PostAsync(url, latin1), HttpStatusCode.BadRequest, "malformed-request");
        await Expect(await admin.PostAsJsonAsync(url, new { title = "T", source = "a.md" }), HttpStatusCode.BadRequest, "malformed-request");
        using var receptionist = TestApp.As(clinic, "receptionist");
        await Expect(await receptionist.PostAsJsonAsync(url, new { title = "T", source = "a.md", content = "text" }), HttpStatusCode.Forbidden, "forbidden");

        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from knowledge_documents where clinic_id = $1", clinic));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from knowledge_chunks where clinic_id = $1", clinic));
    }

    [Fact]
    public async Task Clinic_A_cannot_search_clinic_B_documents()
    {
        var (a, _) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        var (b, _) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: true);
        using var aAdmin = TestApp.As(a);
        var denied = await aAdmin.GetAsync($"/api/clinics/{b}/knowledge/search?q=rhinoplasty");
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        Assert.Equal("https://frontdesk.dev/problems/cross-tenant", (await denied.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
        var posted = await aAdmin.PostAsJsonAsync($"/api/clinics/{b}/knowledge/documents", new { title = "X", source = "x.md", content = "x" });
        Assert.Equal(HttpStatusCode.Forbidden, posted.StatusCode);

        // The data layer on its own: A's claims asking for B's clinic find nothing.
        var aClaims = RequestClaims.ForClinic(a, "rls-test", "admin");
        Assert.Empty(await KnowledgeStore.SearchAsync(TestApp.Db, aClaims, b, KnowledgeQuery.Parse("how much is a rhinoplasty"), 3, default));
        await using var s = await TestApp.Db.BeginAsync(aClaims, default);
        Assert.Empty(await s.QueryAsync<long>("select id from knowledge_chunks where clinic_id = @B", new { B = b }));
        Assert.Empty(await s.QueryAsync<string>("select lexeme from knowledge_lexemes where clinic_id = @B", new { B = b }));
        // B's own claims do find it.
        Assert.NotEmpty(await KnowledgeStore.SearchAsync(TestApp.Db, RequestClaims.ForClinic(b, "rls-test", "admin"), b, KnowledgeQuery.Parse("how much is a rhinoplasty"), 3, default));
    }
}
