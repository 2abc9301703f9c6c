using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace Frontdesk.Tests.Infrastructure;

/// <summary>
/// Lets an in-process test client say which address it calls from (header <see cref="Header"/>), as
/// distinct phones would: the patient pages rate-limit per client address, and every TestServer
/// request otherwise comes from the same (unknown) one, so busy test classes would share one budget.
/// </summary>
public sealed class TestClientAddress : IStartupFilter
{
    public const string Header = "X-Test-Client-Address";

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use((http, nextMiddleware) =>
        {
            if (http.Request.Headers.TryGetValue(Header, out var value) && IPAddress.TryParse(value.ToString(), out var address))
                http.Connection.RemoteIpAddress = address;
            return nextMiddleware(http);
        });
        next(app);
    };

    /// <summary>A fresh address from the documentation range 198.18.0.0/15 (benchmarking).</summary>
    public static string NewAddress() => $"198.{18 + Random.Shared.Next(2)}.{Random.Shared.Next(256)}.{Random.Shared.Next(1, 255)}";
}
