using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Tenancy;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Frontdesk.Tests.Tenancy;

/// <summary>Issuer and audience (issue 14): Supabase issues aud "authenticated" and an issuer URL;
/// outside Development the audience is checked by default, the issuer whenever it is configured.</summary>
public class JwtValidationTests
{
    const string SupabaseIssuer = "https://abcdefghijklmnop.supabase.co/auth/v1";

    static async Task<HttpStatusCode> ReadAsync(WebApplicationFactory<Program> app, Guid clinicId, string? issuer, string? audience)
    {
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer",
            Auth.Mint(FrontdeskFactory.SecretBytes, RequestClaims.ForClinic(clinicId, "jwt-test", "admin"), TimeSpan.FromMinutes(5), issuer, audience));
        using var r = await client.GetAsync("/functions/v1/get_clinic_data");
        if (r.StatusCode == HttpStatusCode.Unauthorized)
            Assert.Equal(Problems.Unauthorized, JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("type").GetString());
        return r.StatusCode;
    }

    [Fact]
    public async Task Outside_Development_a_token_for_another_audience_or_none_is_refused()
    {
        var c = await TestClinic.CreateAsync(slots: 0, patients: 0);
        Assert.Equal(HttpStatusCode.OK, await ReadAsync(TestApp.Factory, c.Id, null, "authenticated"));
        Assert.Equal(HttpStatusCode.Unauthorized, await ReadAsync(TestApp.Factory, c.Id, null, "anon"));
        Assert.Equal(HttpStatusCode.Unauthorized, await ReadAsync(TestApp.Factory, c.Id, null, null));
    }

    [Fact]
    public async Task A_configured_issuer_and_audience_are_both_checked()
    {
        var c = await TestClinic.CreateAsync(slots: 0, patients: 0);
        await using var app = TestApp.Factory.WithWebHostBuilder(b =>
        {
            b.UseSetting("FRONTDESK_JWT_ISSUER", SupabaseIssuer);
            b.UseSetting("FRONTDESK_JWT_AUDIENCE", "authenticated, frontdesk");
        });
        Assert.Equal(HttpStatusCode.OK, await ReadAsync(app, c.Id, SupabaseIssuer, "authenticated"));
        Assert.Equal(HttpStatusCode.OK, await ReadAsync(app, c.Id, SupabaseIssuer, "frontdesk"));
        Assert.Equal(HttpStatusCode.Unauthorized, await ReadAsync(app, c.Id, null, "authenticated"));
        Assert.Equal(HttpStatusCode.Unauthorized, await ReadAsync(app, c.Id, "https://attacker.supabase.co/auth/v1", "authenticated"));
        Assert.Equal(HttpStatusCode.Unauthorized, await ReadAsync(app, c.Id, SupabaseIssuer, "anon"));
    }

    [Fact]
    public async Task In_Development_nothing_but_the_signature_is_checked_unless_configured_and_star_turns_the_audience_check_off()
    {
        var c = await TestClinic.CreateAsync(slots: 0, patients: 0);
        await using (var dev = TestApp.Factory.WithWebHostBuilder(b => b.UseEnvironment("Development")))
        {
            Assert.Equal(HttpStatusCode.OK, await ReadAsync(dev, c.Id, null, null));
            Assert.Equal(HttpStatusCode.OK, await ReadAsync(dev, c.Id, "anyone", "anon"));
        }
        await using var any = TestApp.Factory.WithWebHostBuilder(b => b.UseSetting("FRONTDESK_JWT_AUDIENCE", "*"));
        Assert.Equal(HttpStatusCode.OK, await ReadAsync(any, c.Id, null, null));
        Assert.Equal(HttpStatusCode.OK, await ReadAsync(any, c.Id, null, "anon"));
    }

    [Fact]
    public void Settings_that_name_nothing_are_refused_at_start_and_lists_are_split_on_commas()
    {
        static List<System.ComponentModel.DataAnnotations.ValidationResult> Errors(JwtOptions o) =>
            o.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(o)).ToList();
        Assert.Single(Errors(new JwtOptions { Issuer = " , " }));
        Assert.Single(Errors(new JwtOptions { Audience = "," }));
        Assert.Empty(Errors(new JwtOptions { Audience = "*" }));
        var o = new JwtOptions { Issuer = "https://a.supabase.co/auth/v1, supabase", Audience = " authenticated ,frontdesk" };
        Assert.Empty(Errors(o));
        Assert.Equal(["https://a.supabase.co/auth/v1", "supabase"], o.Issuers);
        Assert.Equal(["authenticated", "frontdesk"], o.Audiences(development: true)!);
        Assert.Null(new JwtOptions().Audiences(development: true));
        Assert.Equal(["authenticated"], new JwtOptions().Audiences(development: false)!);
    }

    [Fact]
    public void Minted_tokens_carry_the_issuer_they_are_given()
    {
        var token = Auth.Mint(FrontdeskFactory.SecretBytes, RequestClaims.ForClinic(Guid.NewGuid(), "x", "admin"), TimeSpan.FromMinutes(1), SupabaseIssuer);
        var jwt = new System.IdentityModel.Tokens.Jwt.JwtSecurityTokenHandler().ReadJwtToken(token);
        Assert.Equal(SupabaseIssuer, jwt.Issuer);
        Assert.Equal(["authenticated"], jwt.Audiences);
    }
}
