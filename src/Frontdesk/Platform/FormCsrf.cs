using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Frontdesk.Platform;

/// <summary>
/// CSRF protection for server-rendered forms by double submit: an HttpOnly, SameSite=Strict random
/// nonce cookie, and a form field that is an HMAC of the nonce and what the form is bound to (key
/// derived from the JWT secret and a purpose). A cross-site page can neither read the cookie nor
/// compute the field without our key; it needs no session store and works across instances.
/// </summary>
public sealed class FormCsrf(byte[] secret, string purpose, string cookieName, string cookiePath, Func<HttpContext, bool>? secure = null)
{
    public const string Field = "csrf";

    readonly byte[] _key = HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 32, info: Encoding.UTF8.GetBytes(purpose));

    public string CookieName => cookieName;

    /// <summary>The form field value for <paramref name="bound"/>, setting the browser's nonce cookie when it has none.</summary>
    public string Issue(HttpContext http, string bound)
    {
        var nonce = http.Items[cookieName] as string ?? http.Request.Cookies[cookieName];
        if (nonce is not { Length: 43 } || !Base64Url.IsValid(nonce))
        {
            nonce = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
            http.Response.Cookies.Append(cookieName, nonce, new CookieOptions
            {
                HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = secure?.Invoke(http) ?? http.Request.IsHttps, Path = cookiePath, IsEssential = true,
            });
            // Later Issue calls in the same request must use the nonce the browser is about to get.
            http.Items[cookieName] = nonce;
        }
        return Mac(nonce, bound);
    }

    public bool Valid(HttpContext http, IFormCollection form, string bound)
    {
        var nonce = http.Request.Cookies[cookieName];
        var field = form[Field].ToString();
        if (nonce is not { Length: 43 } || field.Length == 0 || field.Length > 100) return false;
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Mac(nonce, bound)), Encoding.ASCII.GetBytes(field));
    }

    string Mac(string nonce, string bound) =>
        Base64Url.EncodeToString(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(nonce + "\n" + bound)));
}
