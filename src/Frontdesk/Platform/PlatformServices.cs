using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Resources;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Frontdesk.Platform;

public static class PlatformServices
{
    public static IServiceCollection AddFrontdeskPlatform(this IServiceCollection services, IConfiguration config)
    {
        services.AddOptions<FrontdeskOptions>()
            .Configure<IConfiguration>(FrontdeskOptions.Bind)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<FrontdeskOptions>, StartupChecks>();
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<FrontdeskOptions>>().Value);
        services.AddSingleton<DevSecrets>();
        services.AddSingleton<HealthDetails>();

        // The database starts with the host (DatabaseStarter) and stops when the container disposes it.
        services.AddSingleton(sp => DatabaseHost.StartAsync(
                sp.GetRequiredService<FrontdeskOptions>(),
                sp.GetRequiredService<IHostEnvironment>().IsDevelopment(),
                sp.GetRequiredService<ILoggerFactory>().CreateLogger("Frontdesk.Database"),
                CancellationToken.None).GetAwaiter().GetResult());
        services.AddSingleton(sp => sp.GetRequiredService<DatabaseHost>().DataSource);
        services.AddOptions<ClinicGateOptions>().BindConfiguration("Database").ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(sp => ClinicGate.FromPool(
            new NpgsqlConnectionStringBuilder(sp.GetRequiredService<NpgsqlDataSource>().ConnectionString).MaxPoolSize,
            sp.GetRequiredService<IOptions<ClinicGateOptions>>().Value));
        services.AddHttpContextAccessor();
        services.AddSingleton(sp => new Db(sp.GetRequiredService<NpgsqlDataSource>())
        {
            Gate = sp.GetRequiredService<ClinicGate>(),
            Requests = sp.GetRequiredService<IHttpContextAccessor>(),
        });
        services.AddHostedService<DatabaseStarter>();

        // Problems raised by the framework itself (status code pages, binding) get our stable types too.
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx =>
        {
            var p = ctx.ProblemDetails;
            if (p.Type is null || p.Type.StartsWith("https://tools.ietf.org/", StringComparison.Ordinal))
                p.Type = Problems.ForStatus(p.Status ?? ctx.HttpContext.Response.StatusCode);
        });
        services.ConfigureHttpJsonOptions(o =>
        {
            // Missing required members and nulls in non-nullable ones are 400s, not silent defaults.
            o.SerializerOptions.RespectNullableAnnotations = true;
            o.SerializerOptions.RespectRequiredConstructorParameters = true;
            // Text PostgreSQL cannot store (NUL) is refused at binding: a 400, not a 500 from the database.
            o.SerializerOptions.TypeInfoResolver = System.Text.Json.Serialization.Metadata.JsonTypeInfoResolver.WithAddedModifier(
                o.SerializerOptions.TypeInfoResolver ?? new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(), InputGuard.RejectNul);
            o.SerializerOptions.Converters.Add(new InputGuard.CheckedJsonElement());
        });
        services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddOpenApi();

        var otel = services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("frontdesk"))
            .WithTracing(t => t.AddAspNetCoreInstrumentation(o => o.EnrichWithHttpRequest = (activity, request) =>
                {
                    // Spans never carry a link token or a query string (issue 13).
                    activity.SetTag("url.path", RequestLog.Redact(request.Path));
                    activity.SetTag("url.query", null);
                }).AddHttpClientInstrumentation().AddNpgsql())
            .WithMetrics(m => m.AddAspNetCoreInstrumentation().AddHttpClientInstrumentation().AddMeter("Npgsql")
                .AddMeter("Frontdesk"));
        if (!string.IsNullOrWhiteSpace(config["OTEL_EXPORTER_OTLP_ENDPOINT"]))
            otel.UseOtlpExporter();
        return services;
    }

    /// <summary>Checked before anything starts: outside Development, an external database comes with
    /// every secret set (generated ones are for development and the private cluster only), and with a
    /// separate request-path login whatever the environment.</summary>
    sealed class StartupChecks(IHostEnvironment env) : IValidateOptions<FrontdeskOptions>
    {
        public ValidateOptionsResult Validate(string? name, FrontdeskOptions o)
        {
            if (string.IsNullOrWhiteSpace(o.DatabaseUrl)) return ValidateOptionsResult.Success;
            var failures = new List<string>();
            if (string.IsNullOrWhiteSpace(o.AppDatabaseUrl)) failures.Add(DatabaseHost.AppLoginRequired);
            if (!env.IsDevelopment())
            {
                if (string.IsNullOrWhiteSpace(o.JwtSecret))
                    failures.Add("FRONTDESK_JWT_SECRET is required outside Development with FRONTDESK_DATABASE_URL (on Supabase: the project's JWT secret).");
                if (string.IsNullOrWhiteSpace(o.MasterKey))
                    failures.Add("FRONTDESK_MASTER_KEY is required outside Development with FRONTDESK_DATABASE_URL (base64 of 32 random bytes: openssl rand -base64 32).");
            }
            return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }
    }

    sealed class DatabaseStarter(IServiceProvider sp) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            sp.GetRequiredService<DatabaseHost>();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
