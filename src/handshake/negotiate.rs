//! Extension negotiation (RFC 6455 section 9.1): the server picks from the
//! client's offers, the client checks and finalizes the server's choice.

use crate::error::RemoteProtocolError;
use crate::extensions::Extension;
use crate::handshake::http::remote_error;

/// The extension name of a header element: the part before any `;`.
fn element_name(element: &str) -> &str {
    element.split(';').next().unwrap_or("").trim()
}

/// For each supported extension, in order, accepts the first offer with its
/// name that a fresh clone of it accepts. Returns the response header value
/// (`None` if nothing was accepted) and the accepting clones.
///
/// Each attempt uses a new clone, so state from a declined offer never
/// leaks into the extension that is kept.
pub(crate) fn server_negotiate(
    offers: &[String],
    supported: &[Box<dyn Extension>],
) -> (Option<String>, Vec<Box<dyn Extension>>) {
    let mut elements = Vec::new();
    let mut accepted = Vec::new();
    for ext in supported {
        if let Some((element, clone)) = accept_first(offers, ext.as_ref()) {
            elements.push(element);
            accepted.push(clone);
        }
    }
    let header = if elements.is_empty() { None } else { Some(elements.join(", ")) };
    (header, accepted)
}

/// The first offer for `ext` that a fresh clone accepts: the response
/// element and that clone.
fn accept_first(offers: &[String], ext: &dyn Extension) -> Option<(String, Box<dyn Extension>)> {
    offers.iter().filter(|offer| element_name(offer) == ext.name()).find_map(|offer| {
        let mut clone = ext.clone_box();
        let params = clone.accept(offer)?;
        let element = if params.is_empty() { clone.name().to_owned() } else { format!("{}; {}", clone.name(), params) };
        Some((element, clone))
    })
}

/// Matches the server's accepted elements to the extensions offered and
/// finalizes a clone of each, in the order the server listed them.
///
/// An element naming an extension that was not offered, or naming one twice,
/// fails the handshake, as does an extension refusing the server's parameters.
pub(crate) fn client_finalize(
    accepted: &[String],
    offered: &[Box<dyn Extension>],
) -> Result<Vec<Box<dyn Extension>>, RemoteProtocolError> {
    let mut finalized: Vec<Box<dyn Extension>> = Vec::with_capacity(accepted.len());
    for element in accepted {
        let name = element_name(element);
        let Some(ext) = offered.iter().find(|ext| ext.name() == name) else {
            return Err(remote_error(format!("unrecognized extension {name}"), 400));
        };
        if finalized.iter().any(|done| done.name() == name) {
            return Err(remote_error(format!("extension {name} accepted more than once"), 400));
        }
        let mut clone = ext.clone_box();
        clone.finalize(element).map_err(|msg| remote_error(msg, 400))?;
        finalized.push(clone);
    }
    Ok(finalized)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Event, RejectConnection};

    /// Accepts offers whose params contain `ok`; records every call.
    #[derive(Clone, Debug, Default)]
    struct Fake {
        name: &'static str,
        params: &'static str,
        seen: Vec<String>,
    }

    impl Extension for Fake {
        fn name(&self) -> &str {
            self.name
        }
        fn clone_box(&self) -> Box<dyn Extension> {
            Box::new(self.clone())
        }
        fn offer(&self) -> String {
            self.seen.join("|")
        }
        fn accept(&mut self, offer: &str) -> Option<String> {
            self.seen.push(offer.to_owned());
            offer.contains("ok").then(|| self.params.to_owned())
        }
        fn finalize(&mut self, response: &str) -> Result<(), String> {
            self.seen.push(response.to_owned());
            if response.contains("bad") {
                Err(format!("refused {response}"))
            } else {
                Ok(())
            }
        }
    }

    fn fake(name: &'static str, params: &'static str) -> Box<dyn Extension> {
        Box::new(Fake { name, params, seen: Vec::new() })
    }

    fn offers(list: &[&str]) -> Vec<String> {
        list.iter().copied().map(String::from).collect()
    }

    #[test]
    fn nothing_offered_or_supported() {
        let (header, accepted) = server_negotiate(&[], &[fake("x", "")]);
        assert_eq!((header, accepted.len()), (None, 0));
        let (header, accepted) = server_negotiate(&offers(&["x; ok"]), &[]);
        assert_eq!((header, accepted.len()), (None, 0));
    }

    #[test]
    fn accepts_first_acceptable_offer_with_fresh_clone() {
        let supported = [fake("x", "p=1")];
        let (header, accepted) = server_negotiate(&offers(&["x; no", "y; ok", "x; ok=1", "x; ok=2"]), &supported);
        assert_eq!(header.as_deref(), Some("x; p=1"));
        assert_eq!(accepted.len(), 1);
        // The kept clone saw only the offer it accepted, not the declined one.
        assert_eq!(accepted.first().map(|e| e.offer()), Some("x; ok=1".to_owned()));
        // The supported prototype is untouched.
        assert_eq!(supported.first().map(|e| e.offer()), Some(String::new()));
    }

    #[test]
    fn empty_params_give_bare_name_in_supported_order() {
        let (header, accepted) =
            server_negotiate(&offers(&["b;ok", " a ; ok ", "c; ok"]), &[fake("a", ""), fake("b", "q"), fake("z", "")]);
        assert_eq!(header.as_deref(), Some("a, b; q"));
        let names: Vec<_> = accepted.iter().map(|e| e.name().to_owned()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn all_declined_gives_none() {
        let (header, accepted) = server_negotiate(&offers(&["x; no", "x"]), &[fake("x", "")]);
        assert_eq!((header, accepted.len()), (None, 0));
    }

    #[test]
    fn name_must_match_exactly() {
        let (header, _) = server_negotiate(&offers(&["xy; ok", "X; ok"]), &[fake("x", "")]);
        assert_eq!(header, None);
    }

    fn hint_is_default(e: &RemoteProtocolError) -> bool {
        e.event_hint() == Some(&Event::RejectConnection(RejectConnection::default()))
    }

    #[test]
    fn client_finalizes_in_accepted_order() {
        let offered = [fake("a", ""), fake("b", "")];
        let done = client_finalize(&offers(&["b; x=1", "a"]), &offered).unwrap();
        let seen: Vec<_> = done.iter().map(|e| (e.name().to_owned(), e.offer())).collect();
        assert_eq!(seen, [("b".to_owned(), "b; x=1".to_owned()), ("a".to_owned(), "a".to_owned())]);
        // The offered prototypes are untouched.
        assert!(offered.iter().all(|e| e.offer().is_empty()));
    }

    #[test]
    fn client_accepts_nothing() {
        assert!(client_finalize(&[], &[fake("a", "")]).unwrap().is_empty());
    }

    #[test]
    fn client_rejects_unknown_extension() {
        let e = client_finalize(&offers(&["zz; p"]), &[fake("a", "")]).unwrap_err();
        assert_eq!(e.message(), "unrecognized extension zz");
        assert!(hint_is_default(&e));
    }

    #[test]
    fn client_rejects_duplicate_acceptance() {
        let e = client_finalize(&offers(&["a", "a; p"]), &[fake("a", "")]).unwrap_err();
        assert_eq!(e.message(), "extension a accepted more than once");
        assert!(hint_is_default(&e));
    }

    #[test]
    fn client_reports_finalize_failure() {
        let e = client_finalize(&offers(&["a; bad"]), &[fake("a", "")]).unwrap_err();
        assert_eq!(e.message(), "refused a; bad");
        assert!(hint_is_default(&e));
    }
}
