using Frontdesk.Knowledge;

namespace Frontdesk.Reception;

public enum CareKind
{
    /// <summary>An ordinary question: the knowledge base answers it.</summary>
    None,
    /// <summary>The caller asks for a clinical judgement about themselves: offer a consultation.</summary>
    Advice,
    /// <summary>The caller describes an emergency happening now: the emergency instruction, and an urgent callback.</summary>
    Emergency,
}

/// <summary>The verdict and the cue that decided it (for logs and tests: the rule is explainable).</summary>
public sealed record CareVerdict(CareKind Kind, string? Cue)
{
    public static readonly CareVerdict None = new(CareKind.None, null);
}

/// <summary>
/// Which questions the knowledge base must not answer (issue 17): a request for personal clinical
/// advice, or the description of an emergency. Cue lists, like the PII detector's lexicons — small,
/// readable, tested — over the question normalized as knowledge search normalizes it (lower case,
/// apostrophes joined: "can't" → "cant", "I'm" → "im").
///
/// Emergency: an emergency cue (breathing, chest pain, heavy bleeding, anaphylaxis, collapse, stroke,
/// vision loss or skin blanching after filler, self-harm) said about someone now — a person cue (I, my,
/// he, she, someone …) — and not framed as a hypothetical or a general question ("what happens if",
/// "in case", "do you treat", "signs of" …). "What happens if I have heavy bleeding after surgery?" is
/// a question about aftercare and goes to the knowledge base, which covers it.
/// Advice: the caller states a symptom of their own ("my lips are swollen", "I have a rash", "it's
/// red") and asks for a judgement ("is that normal", "should I", "do I need antibiotics"). Questions
/// about a treatment's eligibility, preparation or recovery in general ("Can I eat before my
/// operation?") are neither, and are answered.
/// </summary>
public static class CareQuestions
{
    static readonly string[] EmergencyCues =
    [
        // breathing
        "cant breathe", "cannot breathe", "can not breathe", "struggling to breathe", "difficulty breathing", "trouble breathing",
        "hard to breathe", "not breathing", "stopped breathing", "short of breath", "gasping for air",
        // heart
        "chest pain", "chest pains", "pain in my chest", "tight chest", "chest is tight", "heart attack",
        // bleeding
        "bleeding heavily", "heavy bleeding", "bleeding a lot", "bleeding quite a lot", "bleeding really badly", "bleeding badly",
        "bleeding loads", "wont stop bleeding", "will not stop bleeding", "cant stop the bleeding", "cant stop bleeding",
        "bleeding wont stop", "lot of blood", "lots of blood", "coughing up blood", "vomiting blood",
        // allergic reaction
        "anaphylaxis", "anaphylactic", "throat is swelling", "throat swelling", "throat is closing", "tongue is swelling",
        "having an allergic reaction",
        // consciousness, fits, stroke
        "unconscious", "passed out", "unresponsive", "not responding", "collapsed", "fainted", "having a seizure", "having a fit",
        "having a stroke", "face is drooping", "slurred speech",
        // filler complications that cannot wait: vascular occlusion, sight
        "turning white", "gone white", "going white", "turning blue", "gone blue", "turning grey", "gone grey", "blanching",
        "lost my vision", "losing my vision", "vision loss", "gone blind", "going blind", "cant see out of",
        // self-harm
        "kill myself", "killing myself", "suicidal", "end my life", "take my own life", "want to die", "overdose", "overdosed",
    ];

    static readonly string[] PersonCues =
    [
        "i", "im", "ive", "id", "me", "my", "we", "were", "our", "he", "hes", "his", "him", "she", "shes", "her", "they", "theyre", "their",
        "someone", "somebody", "right now", "at the moment",
    ];

    static readonly string[] HypotheticalCues =
    [
        "what happens if", "what happens when", "what if", "what should i do if", "what do i do if", "what to do if", "in case",
        "if i", "if you", "if my", "if someone", "if there", "if its", "would i", "could i get", "can you get", "is it common",
        "how common", "how likely", "chance of", "chances of", "risk", "risks", "ever", "do people", "does anyone",
        "do you treat", "do you do", "do you offer", "signs of", "symptoms of",
    ];

    static readonly string[] SymptomCues =
    [
        // "my <part or sign>": the caller speaks of their own body or treatment
        "my lips", "my lip", "my nose", "my face", "my eye", "my eyes", "my cheek", "my cheeks", "my forehead", "my skin", "my breast",
        "my breasts", "my scar", "my scars", "my wound", "my stitches", "my incision", "my bruise", "my bruising", "my bruises",
        "my swelling", "my lump", "my rash", "my implant", "my implants", "my filler", "my botox", "my pain", "my temperature",
        "my drain", "my dressing", "my jaw", "my chin", "my neck", "my belly button", "my tummy", "my stomach", "my leg", "my legs",
        "my arm", "my arms", "my throat", "my head",
        // "I have …", "I've got …", "I'm …"
        "i have a rash", "i have a lump", "i have a fever", "i have a temperature", "i have an infection", "i have pain", "i have a headache",
        "ive got a rash", "ive got a lump", "ive got a fever", "ive got a temperature", "ive got an infection", "ive got pain",
        "im swollen", "im still swollen", "im bruised", "im still bruised", "im sore", "im still sore", "im numb", "im in pain",
        "im itchy", "im dizzy", "im feeling sick", "i feel sick", "i feel dizzy", "i feel unwell",
        "it hurts", "it still hurts", "its swollen", "its red", "its hot", "its sore", "its leaking", "its weeping", "its oozing",
        "pus", "discharge",
    ];

    static readonly string[] JudgementCues =
    [
        "is that normal", "is this normal", "is it normal", "is that ok", "is this ok", "is it ok", "is that okay", "is this okay",
        "is it okay", "is that alright", "is it alright", "normal to", "should i be worried", "should i worry", "should i go",
        "should i see", "should i take", "should i stop", "should i use", "should i put", "should i ice", "should i massage",
        "should i call", "do i need antibiotics", "do i need to see", "do i need a doctor", "do i need to go", "what should i take",
        "what can i take", "what should i do", "what do i do", "what can i do", "is it infected", "is that infected", "is this infected",
        "am i allergic", "could it be", "could that be", "could this be", "does it look", "does that look", "does this sound",
        "is it serious", "is that serious", "is this serious", "is it dangerous", "why is my", "whats wrong with my", "how do i treat",
        "worried about my", "im worried", "can you tell me if",
    ];

    public static CareVerdict Classify(string? question)
    {
        if (string.IsNullOrWhiteSpace(question)) return CareVerdict.None;
        var text = $" {KnowledgeQuery.Normalize(question)} ";
        if (First(text, EmergencyCues) is { } emergency && First(text, PersonCues) is not null && First(text, HypotheticalCues) is null)
            return new CareVerdict(CareKind.Emergency, emergency);
        if (First(text, SymptomCues) is { } symptom && First(text, JudgementCues) is { } judgement)
            return new CareVerdict(CareKind.Advice, $"{symptom} + {judgement}");
        return CareVerdict.None;
    }

    static string? First(string padded, string[] cues)
    {
        foreach (var cue in cues)
            if (padded.Contains($" {cue} ", StringComparison.Ordinal)) return cue;
        return null;
    }
}
