namespace Frontdesk.Platform;

/// <summary>RFC 9457 problem types. The type URIs are stable: clients switch on them.</summary>
public static class Problems
{
    const string Base = "https://frontdesk.dev/problems/";

    public const string Validation = Base + "validation";
    public const string MalformedRequest = Base + "malformed-request";
    public const string Unauthorized = Base + "unauthorized";
    public const string Forbidden = Base + "forbidden";
    public const string CrossTenant = Base + "cross-tenant";
    public const string NotFound = Base + "not-found";
    public const string Conflict = Base + "conflict";
    public const string SlotTaken = Base + "slot-taken";
    public const string PayloadTooLarge = Base + "payload-too-large";
    public const string UnsupportedMediaType = Base + "unsupported-media-type";
    public const string TooManyRequests = Base + "too-many-requests";
    public const string Unavailable = Base + "unavailable";
    public const string Upstream = Base + "upstream";
    public const string Internal = Base + "internal";
    /// <summary>A duplicate of a provider message whose first delivery is still being processed: retry later (Retry-After).</summary>
    public const string InProgress = Base + "in-progress";
    public const string SmsCountryNotAllowed = Base + "sms-country-not-allowed";
    public const string SmsQuotaExceeded = Base + "sms-quota-exceeded";
    public const string CalendarNotShared = Base + "calendar-not-shared";
    public const string CalendarNotVerified = Base + "calendar-not-verified";
    public const string CalendarLinkedElsewhere = Base + "calendar-linked-elsewhere";

    public static string ForStatus(int status) => status switch
    {
        400 => MalformedRequest,
        401 => Unauthorized,
        403 => Forbidden,
        404 => NotFound,
        405 => Base + "method-not-allowed",
        409 => Conflict,
        413 => PayloadTooLarge,
        415 => UnsupportedMediaType,
        429 => TooManyRequests,
        503 => Unavailable,
        _ => status >= 500 ? Internal : Base + status.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public static ProblemHttpResult Problem(int status, string type, string title, string? detail = null,
        IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: title, type: type, extensions: extensions);

    public static ProblemHttpResult NotFoundProblem(string what) => Problem(404, NotFound, $"{what} not found");

    public static ProblemHttpResult Invalid(string detail) => Problem(400, Validation, "The request is not valid", detail);

    public static ProblemHttpResult ConflictProblem(string detail) => Problem(409, Conflict, "Conflict", detail);
}
