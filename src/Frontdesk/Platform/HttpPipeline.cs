using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Npgsql;

namespace Frontdesk.Platform;

/// <summary>Request limits and the mapping of failures to problem+json: no stack trace or SQL ever
/// reaches a client.</summary>
public static partial class HttpPipeline
{
    /// <summary>Server-Timing: app;dur=… on every response — what the service itself spent, so a
    /// client (or the latency bench) can tell server time from network and queueing.</summary>
    public static void UseServerTiming(this WebApplication app) =>
        app.Use(async (http, next) =>
        {
            var t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            http.Response.OnStarting(() =>
            {
                http.Response.Headers["Server-Timing"] = "app;dur=" + System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds
                    .ToString("F2", System.Globalization.CultureInfo.InvariantCulture);
                return Task.CompletedTask;
            });
            await next(http);
        });

    public static void UseBodyLimit(this WebApplication app, long maxBytes)
    {
        app.Use(async (http, next) =>
        {
            if (http.Request.ContentLength > maxBytes)
            {
                await TooLarge(http, maxBytes);
                return;
            }
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } f)
                f.MaxRequestBodySize = maxBytes;
            // Chunked bodies have no Content-Length: count what is read (also under TestServer,
            // which does not enforce Kestrel's limit).
            http.Request.Body = new LimitedStream(http.Request.Body, maxBytes);
            await next(http);
        });
    }

    static Task TooLarge(HttpContext http, long maxBytes)
    {
        http.Response.StatusCode = 413;
        return TypedResults.Problem(statusCode: 413, type: Problems.PayloadTooLarge, title: "Request body too large",
            detail: $"The limit is {maxBytes} bytes.").ExecuteAsync(http);
    }

    public static void UseProblemExceptions(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            StatusCodeSelector = Status,
            // The framework logs every handled exception as an error; a client's bad input is not one
            // (ours are logged below, as Unhandled, with the trace id).
            SuppressDiagnosticsCallback = ctx => Status(ctx.Exception) < 500,
            ExceptionHandler = async http =>
            {
                var error = http.Features.Get<IExceptionHandlerFeature>()?.Error;
                var status = Status(error);
                var (type, title) = status switch
                {
                    400 when ClientData(error) is not null => (Problems.Validation, "The request holds a value that cannot be stored"),
                    400 => (Problems.MalformedRequest, "The request could not be read"),
                    // The database's own refusal (a privilege or a row-level security policy): not our failure.
                    403 => (Problems.Forbidden, "The database does not permit this for your clinic and role"),
                    409 => (Problems.Conflict, "Conflicts with existing data"),
                    413 => (Problems.PayloadTooLarge, "Request body too large"),
                    415 => (Problems.UnsupportedMediaType, "Unsupported content type"),
                    429 => (Problems.TooManyRequests, "The clinic has too much in progress; try again shortly"),
                    499 => (Problems.MalformedRequest, "Client closed the request"),
                    503 => (Problems.Unavailable, "The database is unavailable"),
                    _ => (Problems.Internal, "Something went wrong on our side"),
                };
                var logger = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Frontdesk");
                if (status >= 500)
                    Log.Unhandled(logger, error?.GetType().Name ?? "unknown", http.TraceIdentifier, error);
                // Not hidden either: which rule refused what (never the value; PostgresException.Detail can hold the row).
                if (ClientData(error) is { } refused)
                    Log.RefusedByDatabase(logger, http.TraceIdentifier, refused.SqlState, refused.TableName ?? "", refused.ConstraintName ?? refused.ColumnName ?? "");
                http.Response.StatusCode = status;
                if (error is ClinicBusyException busy)
                    http.Response.Headers.RetryAfter = ((int)Math.Ceiling(busy.RetryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                // The detail of a BadHttpRequestException names the parameter or the JSON position,
                // never a value: safe to return and useful to the caller.
                var detail = error is BadHttpRequestException b ? b.Message : ClientData(error) is { } p ? RefusalDetail(p) : null;
                await TypedResults.Problem(statusCode: status, type: type, title: title, detail: detail,
                    extensions: new Dictionary<string, object?> { ["traceId"] = http.TraceIdentifier }).ExecuteAsync(http);
            },
        });
    }

    /// <summary>Exception.Data key set by DbSession when a named system path's statement failed.</summary>
    public const string SystemPathKey = "Frontdesk.SystemPath";

    static int Status(Exception? e) => e switch
    {
        // Minimal APIs wrap the body-limit exception in a 400 "failed to read parameter".
        BadHttpRequestException { InnerException: BadHttpRequestException { StatusCode: 413 } } => 413,
        BadHttpRequestException b => b.StatusCode,
        PostgresException p when ClientData(p) is not null => p.SqlState == PostgresErrorCodes.ForeignKeyViolation
            && p.MessageText.StartsWith("update or delete", StringComparison.Ordinal) ? 409 : 400,
        PostgresException { SqlState: PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.ExclusionViolation } => 409,
        PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege } => 403,
        ClinicBusyException => 429,
        NpgsqlException { IsTransient: true } => 503,
        OperationCanceledException => 499,
        _ => 500,
    };

    /// <summary>
    /// A database refusal of a value the client sent: the data exceptions (class 22, except division
    /// by zero), check, not-null and foreign-key violations, and values too large to index (54000).
    /// In a request's tenant session these are the client's input reaching a rule the edge did not
    /// check first, so they are 400 problems (logged at warning with SQLSTATE and constraint). From a
    /// named system path they are our own bug and stay 500.
    /// </summary>
    static PostgresException? ClientData(Exception? e) => e is PostgresException p && !p.Data.Contains(SystemPathKey)
        && (p.SqlState.StartsWith("22", StringComparison.Ordinal) && p.SqlState != PostgresErrorCodes.DivisionByZero
            || p.SqlState is PostgresErrorCodes.CheckViolation or PostgresErrorCodes.NotNullViolation
                or PostgresErrorCodes.ForeignKeyViolation or PostgresErrorCodes.ProgramLimitExceeded)
        ? p
        : null;

    /// <summary>What was wrong, by kind: never the value, the SQL or the table.</summary>
    static string RefusalDetail(PostgresException p) => p.SqlState switch
    {
        PostgresErrorCodes.StringDataRightTruncation => "A value is longer than allowed.",
        PostgresErrorCodes.NumericValueOutOfRange => "A number is out of range.",
        PostgresErrorCodes.InvalidDatetimeFormat or PostgresErrorCodes.DatetimeFieldOverflow => "A date or time is not valid.",
        PostgresErrorCodes.CharacterNotInRepertoire or PostgresErrorCodes.UntranslatableCharacter =>
            "A text value holds a character that cannot be stored (such as NUL).",
        PostgresErrorCodes.CheckViolation => "A value is outside what is allowed (too long, empty, or not one of the accepted values).",
        PostgresErrorCodes.NotNullViolation => "A required value is missing.",
        PostgresErrorCodes.ForeignKeyViolation => "A value refers to a record that does not exist, or a record is still referred to.",
        PostgresErrorCodes.ProgramLimitExceeded => "A value is too large to store.",
        _ => "A value is not in the expected format.",
    };

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Request {TraceId} refused by the database: {SqlState} on {Table} ({Constraint})")]
        public static partial void RefusedByDatabase(ILogger logger, string traceId, string sqlState, string table, string constraint);

        [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled {ExceptionType} in request {TraceId}")]
        public static partial void Unhandled(ILogger logger, string exceptionType, string traceId, Exception? exception);
    }

    sealed class LimitedStream(Stream inner, long max) : Stream
    {
        long _read;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        int Count(int n)
        {
            _read += n;
            if (_read > max)
                throw new BadHttpRequestException($"Request body too large: the limit is {max} bytes.", StatusCodes.Status413PayloadTooLarge);
            return n;
        }
    }
}
