using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Encodings.Web;

namespace Frontdesk.BookingPage;

/// <summary>
/// A fragment of markup. Made only by <see cref="Of"/>, whose interpolation handler HTML-encodes
/// every hole that is not itself an <see cref="Html"/>: a template cannot forget to encode a value,
/// because raw text has no way in.
/// </summary>
public readonly struct Html
{
    readonly string? _value;

    Html(string value) => _value = value;

    public static Html Empty => new("");

    public static Html Of(ref Handler handler) => new(handler.ToStringAndClear());

    /// <summary>Markup written by us as a compile-time constant (the stylesheet): never a value from a request or the database.</summary>
    internal static Html Constant(string markup) => new(markup);

    public static Html Join(IEnumerable<Html> parts) => new(string.Concat(parts.Select(p => p._value)));

    public override string ToString() => _value ?? "";

    [InterpolatedStringHandler]
    public ref struct Handler
    {
        StringBuilder _sb;

        public Handler(int literalLength, int formattedCount) => _sb = new StringBuilder(literalLength + formattedCount * 16);

        public readonly void AppendLiteral(string literal) => _sb.Append(literal);

        // One generic entry point, so a List<Html> cannot bind to an encoding overload by accident.
        public readonly void AppendFormatted<T>(T value)
        {
            switch (value)
            {
                case Html html:
                    _sb.Append(html._value);
                    break;
                case IEnumerable<Html> parts:
                    foreach (var p in parts) _sb.Append(p._value);
                    break;
                default:
                    _sb.Append(HtmlEncoder.Default.Encode(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? ""));
                    break;
            }
        }

        public string ToStringAndClear()
        {
            var s = _sb.ToString();
            _sb = null!;
            return s;
        }
    }
}
