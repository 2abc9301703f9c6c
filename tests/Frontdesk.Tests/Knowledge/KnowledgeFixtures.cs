using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Calls;
using Frontdesk.Tests.Infrastructure;

namespace Frontdesk.Tests.Knowledge;

public static class KnowledgeFixtures
{
    public static string CorpusDir
    {
        get
        {
            // shared/ sits beside the repository (or its worktree) in every checkout.
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "shared", "data", "kb", "harley-street-aesthetics");
                if (Directory.Exists(candidate)) return candidate;
            }
            throw new DirectoryNotFoundException("shared/data/kb/harley-street-aesthetics was not found above the test binaries.");
        }
    }

    /// <summary>Posts the shared corpus (14 documents) to the clinic through the API.</summary>
    public static async Task LoadCorpusAsync(Guid clinicId)
    {
        using var admin = TestApp.As(clinicId);
        foreach (var file in Directory.EnumerateFiles(CorpusDir, "*.md").Order(StringComparer.Ordinal))
        {
            var content = await File.ReadAllTextAsync(file);
            var title = content.Split('\n')[0].TrimStart('#', ' ').Trim();
            var r = await admin.PostAsJsonAsync($"/api/clinics/{clinicId}/knowledge/documents", new { title, source = Path.GetFileName(file), content });
            await TestClinic.Json(r);
        }
    }

    /// <summary>A clinic with a Vapi secret, optionally with the corpus loaded.</summary>
    public static async Task<(Guid Id, string Secret)> VapiClinicAsync(bool loadCorpus)
    {
        var secret = "vapi-" + Guid.NewGuid().ToString("N");
        using var svc = TestApp.Service();
        var clinic = await TestClinic.Json(await svc.PostAsJsonAsync("/api/clinics", new { name = $"KB {Guid.NewGuid():N}", vapiSecret = secret }));
        var id = clinic.GetProperty("id").GetGuid();
        if (loadCorpus) await LoadCorpusAsync(id);
        return (id, secret);
    }

    /// <summary>The context the webhook builds: the clinic found by its secret through VapiAuth, the message as Vapi sends it.</summary>
    public static async Task<VapiContext> ContextAsync(string secret, string? callId, string messageJson)
    {
        var http = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        http.Request.Headers["X-Vapi-Secret"] = secret;
        var clinic = await VapiAuth.AuthenticateAsync(http.Request, TestApp.Db, default) ?? throw new InvalidOperationException("The clinic's secret did not authenticate.");
        return new VapiContext(clinic, callId, null, JsonDocument.Parse(messageJson).RootElement.GetProperty("message").Clone());
    }
}
