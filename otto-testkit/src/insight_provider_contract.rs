//! The contracts of [`Transcriber`] and [`CallAnalyzer`]: the invariants every
//! transcript and analysis keeps, whoever produced it.

use otto_core::ports::{CallAnalyzer, Transcriber};

/// A transcript has text, a model, and words in order within the audio's duration,
/// with confidences between 0 and 1.
pub async fn transcriber_contract(transcriber: &dyn Transcriber, recording_url: &str) {
    let transcript = transcriber
        .transcribe(recording_url)
        .await
        .expect("transcribes");
    assert!(!transcript.text.trim().is_empty(), "a transcript has text");
    assert!(!transcript.model.is_empty(), "and names its model");
    assert!(transcript.duration_seconds > 0.0, "audio has a duration");
    assert!(!transcript.words.is_empty(), "words are kept");
    let mut previous_start = 0.0;
    for word in &transcript.words {
        assert!(
            word.start >= previous_start && word.start <= word.end,
            "words in order: {word:?}"
        );
        assert!(
            word.end <= transcript.duration_seconds + 0.5,
            "within the audio: {word:?}"
        );
        assert!((0.0..=1.0).contains(&word.confidence), "{word:?}");
        previous_start = word.start;
    }
}

/// An analysis names its model, has a summary, and counts its tokens consistently.
pub async fn call_analyzer_contract(analyzer: &dyn CallAnalyzer, transcript: &str) {
    let result = analyzer.analyze(transcript).await.expect("analyses");
    assert!(!result.model.is_empty(), "the model is named");
    assert!(!result.analysis.summary.trim().is_empty(), "a summary");
    assert!(result.usage.total_tokens > 0, "tokens are counted");
    assert_eq!(
        result.usage.total_tokens,
        result.usage.prompt_tokens + result.usage.completion_tokens,
        "the total is the sum"
    );
}
