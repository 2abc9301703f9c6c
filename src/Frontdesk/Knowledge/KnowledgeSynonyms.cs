namespace Frontdesk.Knowledge;

/// <summary>
/// Callers do not speak the clinic's vocabulary. These defaults apply to every clinic (kept in code:
/// our RLS rules allow no rows without a clinic); a clinic adds its own rows in knowledge_synonyms,
/// which the search unions with these. A phrase matches whole words of the normalized question; its
/// expansion's words are added to the query at <see cref="KnowledgeQuery.SynonymBoost"/>.
/// </summary>
public static class KnowledgeSynonyms
{
    static (string, string)[] Map(string expansion, params string[] phrases) => [.. phrases.Select(p => (p, expansion))];

    public static readonly IReadOnlyList<(string Phrase, string Expansion)> Defaults =
    [
        // Procedures: colloquial and brand names → clinical names.
        .. Map("rhinoplasty", "nose job", "nose jobs", "nose reshaping", "nose surgery", "nose operation", "nose op", "new nose", "nose"),
        .. Map("liquid rhinoplasty filler non surgical", "non surgical nose job", "non surgical nose", "liquid nose job", "nose filler", "filler nose", "injectable nose job", "15 minute nose job"),
        .. Map("breast augmentation enlargement implants", "boob job", "boob jobs", "boobs", "boob", "breast implants", "implants", "bigger breasts", "breast enlargement", "enlarge my breasts", "breasts done", "augmentation", "enhancement"),
        .. Map("breast uplift", "boob lift", "breast lift", "saggy breasts", "mastopexy"),
        .. Map("breast reduction", "smaller breasts", "reduce my breasts", "boob reduction"),
        .. Map("anti wrinkle injections botulinum toxin", "botox", "botex", "baby botox", "tox", "wrinkle injections", "wrinkle", "wrinkles", "frown lines", "crows feet", "forehead lines", "fine lines", "dysport", "azzalure", "bocouture", "anti ageing injections"),
        .. Map("dermal fillers filler hyaluronic", "fillers", "filler", "lip filler", "lip fillers", "lip injections", "lips", "lip", "bigger lips", "plump lips", "cheek filler", "cheeks", "juvederm", "restylane"),
        .. Map("tear trough filler", "under eye", "under eyes", "dark circles", "eye bags", "hollow eyes"),
        .. Map("facelift rhytidectomy", "face lift", "facelift", "face lifts", "jowls", "saggy skin", "sagging skin", "sagging face", "droopy face", "turkey neck", "neck lift", "mini lift", "mini facelift"),
        .. Map("abdominoplasty", "tummy tuck", "belly tuck"),
        .. Map("liposuction", "lipo", "fat removal"),
        .. Map("blepharoplasty eyelid", "eyelid surgery", "droopy eyelids", "eye lift", "eyelid lift"),
        .. Map("otoplasty ear", "ear pinning", "ear surgery", "sticking out ears", "bat ears"),
        .. Map("brazilian butt lift", "bbl", "bum lift", "butt lift"),
        .. Map("revision rhinoplasty secondary", "redo my nose", "fix my nose job", "second nose job", "revision"),
        .. Map("septoplasty breathing", "breathing", "breathe", "deviated septum", "blocked nose"),

        // What callers ask about: prices, money, time.
        .. Map("price cost", "how much", "price", "prices", "pricing", "cost", "costs", "costing", "expensive", "cheap", "charge", "charges", "quote", "rates", "ballpark", "set me back", "free", "for free", "fee", "fees"),
        .. Map("finance payment monthly apr", "pay monthly", "monthly payments", "monthly", "installments", "instalments", "spread the cost", "spread the payments", "payment plan", "payment plans", "credit", "loan", "interest free", "klarna", "afford"),
        .. Map("payment methods cards", "pay by card", "card", "cards", "cash", "amex", "american express", "visa", "mastercard", "apple pay", "bank transfer", "pay"),
        .. Map("deposit balance", "deposit", "upfront", "up front", "secure my date", "book my surgery date"),
        .. Map("refundable refund deposit fee", "refund", "refunds", "money back", "refundable", "get my money back"),
        .. Map("price includes", "included", "include", "includes", "extras", "hidden costs", "anything else to pay"),

        // Visiting.
        .. Map("opening hours", "open", "opening", "hours", "what time", "close", "closing", "shut", "weekend", "weekends", "saturday", "saturdays", "sunday", "sundays", "bank holiday", "evenings", "late"),
        .. Map("address getting here", "where are you", "where is the clinic", "where is it", "address", "located", "location", "find you", "postcode", "directions", "get to you", "get there", "come to you", "whereabouts", "where are you based", "based", "how do i find"),
        .. Map("underground station line", "tube", "tube station", "underground", "station", "stations", "train", "metro", "nearest station", "bakerloo", "elizabeth line", "public transport"),
        .. Map("parking car park", "park", "parking", "car", "drive there", "drive to you", "drive to the clinic", "congestion charge"),
        .. Map("accessibility step free access", "wheelchair", "disabled", "disability", "stairs", "step free", "mobility", "accessible"),

        // Appointments.
        .. Map("cancel rearrange notice", "cancel", "cancelling", "canceling", "cancellation", "cancellations", "reschedule", "rearrange", "move my appointment", "change my appointment", "change my surgery date", "postpone", "miss my appointment", "missed", "no show", "cant make it"),
        .. Map("consultation", "consult", "consultations", "initial appointment", "first appointment", "meet the surgeon", "see the surgeon", "chat with the surgeon", "assessment"),
        .. Map("video consultations", "video call", "video", "zoom", "online", "facetime", "remote", "virtual"),
        .. Map("cooling off period", "cooling off", "how soon can i have surgery", "how quickly", "straight away", "soonest", "wait between"),
        .. Map("what to bring", "bring", "bring with me", "need to bring"),

        // Before and after surgery.
        .. Map("fasting food fluids", "eat", "eating", "food", "drink", "drinking", "fasting", "fast", "starve", "nil by mouth", "breakfast", "water", "coffee"),
        .. Map("medicines medicine", "medication", "medications", "pills", "tablets", "aspirin", "ibuprofen", "blood thinners", "supplements", "vitamins", "prescription"),
        .. Map("smoking nicotine", "smoke", "smoking", "smoker", "cigarettes", "cigarette", "vape", "vaping", "nicotine"),
        .. Map("recovery return work", "recovery", "recover", "downtime", "down time", "heal", "healing", "back to work", "time off", "off work", "back to normal", "back to the gym"),
        .. Map("24 hour line bleeding emergency nurse", "bleeding", "bleed", "infection", "infected", "fever", "temperature", "swollen", "emergency", "worried", "something wrong", "out of hours", "after hours"),
        .. Map("follow up appointments", "follow up", "follow ups", "check up", "checkup", "check ups", "aftercare appointments"),
        .. Map("aftercare", "after care", "after surgery", "after my operation", "afterwards"),
        .. Map("scars", "scar", "scarring", "scar gel"),
        .. Map("last lasts", "how long does it last", "wear off", "permanent", "lasting", "long lasting"),
        .. Map("general anaesthetic", "anaesthetic", "anesthetic", "anesthesia", "anaesthesia", "asleep", "put to sleep", "put under", "awake"),
        .. Map("hospital stay night same day", "overnight", "stay in hospital", "stay overnight", "night in hospital", "go home", "home the same day"),
        .. Map("drive home adult", "drive", "driving", "drive home", "lift home", "taxi", "take me home"),
        .. Map("exercise gym running", "gym", "workout", "work out", "sport", "sports", "running", "run", "swimming", "lifting"),
        .. Map("risks", "risk", "dangerous", "safe", "safety", "complications", "side effects", "go wrong"),
        .. Map("numbing cream", "hurt", "hurts", "painful", "pain", "needles", "sore"),
        .. Map("dissolved hyaluronidase", "dissolve", "reverse", "reversible", "undo", "dont like it", "not happy"),
        .. Map("saunas sunbeds sun", "sunbed", "sunbeds", "sauna", "saunas", "holiday", "sunbathing", "tanning", "sun"),
        .. Map("hair colouring", "hair dye", "dye my hair", "colour my hair", "color my hair", "hairdresser"),
        .. Map("sleep head raised", "sleep", "sleeping", "pillow", "pillows"),
        .. Map("alcohol", "drink alcohol", "wine", "booze", "beer"),
        .. Map("blood tests pre assessment", "blood test", "bloods", "pre op", "preop", "pre assessment"),
        .. Map("on the day clothes make up", "what to wear", "wear", "clothes", "makeup", "make up", "jewellery", "jewelry", "nail varnish", "nail polish", "nails"),
        .. Map("glasses", "spectacles", "sunglasses"),
        .. Map("support bra", "bra", "sports bra"),
        .. Map("sizing sizers size", "size", "cup size", "how big", "sizes"),

        // Who and whether.
        .. Map("age 18 adults", "age", "how old", "old enough", "under 18", "teenager", "teen", "minimum age", "16", "17", "age limit", "my daughter", "my son"),
        .. Map("pregnancy pregnant breastfeeding", "pregnant", "pregnancy", "breastfeeding", "breast feeding", "nursing", "expecting", "baby", "trying for a baby"),
        .. Map("body mass index bmi weight", "bmi", "weight", "overweight", "heavy", "lose weight"),
        .. Map("body dysmorphic disorder psychologist mental health", "mental health", "anxiety", "depression", "dysmorphia", "therapist"),
        .. Map("surgeon doctor performs team", "surgeon", "surgeons", "doctor", "doctors", "who does", "who performs", "who will do", "who will be doing", "team", "staff", "specialist", "qualified", "qualifications", "experienced"),
        .. Map("nurse", "nurses", "wound care", "dressing", "dressings"),

        // The call itself.
        .. Map("calls recorded ai phone assistant", "recorded", "recording", "robot", "ai", "real person", "human", "automated", "bot", "machine", "am i talking to"),
        .. Map("speak staff member", "speak to someone", "talk to someone", "real person", "receptionist", "manager"),
        .. Map("privacy information deleted copy", "data", "my data", "privacy", "delete my data", "gdpr", "personal information", "my details", "my records"),
        .. Map("text reply stop", "text", "texts", "texting", "sms", "message me", "stop texting", "unsubscribe"),
    ];

    /// <summary>Conversational words that are not in PostgreSQL's English stop-word list but carry no
    /// meaning for retrieval ("how much is it to get my…", "I was just wondering…"). Removed after
    /// synonym phrases have been matched, so "how much" still expands to price.</summary>
    public static readonly IReadOnlySet<string> Fillers = new HashSet<string>(StringComparer.Ordinal)
    {
        "hi", "hello", "hey", "um", "umm", "uh", "er", "erm", "ah", "oh", "yeah", "yes", "no", "ok", "okay", "right", "sure", "well",
        "like", "just", "please", "thanks", "thank", "cheers", "wondering", "wonder", "want", "wanted", "wanna", "gonna", "gotta",
        "know", "tell", "get", "got", "getting", "much", "done", "really", "actually", "basically", "maybe", "probably", "going",
        "need", "needs", "quick", "question", "questions", "ask", "asking", "looking", "interested", "thinking", "think", "love",
        "also", "thing", "things", "bit", "little", "lot", "kind", "sort", "guys", "roughly", "approximately", "possible", "able",
        "let", "say", "said", "mean", "exactly", "im", "ive", "id", "youre", "whats", "hows", "wheres", "cant", "dont", "doesnt",
        "would", "could", "should", "might", "may", "must", "shall", "will", "can", "one", "someone", "something", "anything",
        "there", "please", "lovely", "great", "good", "hoping", "hope", "curious", "idea", "fine", "sorry", "excuse", "currently",
        "typically", "usually", "generally", "normally", "anyway", "also", "still", "even", "though", "yet", "us", "ya", "ye",
    };
}
