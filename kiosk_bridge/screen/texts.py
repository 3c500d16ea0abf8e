"""What the kiosk's pages say, in French and English (the site's choice in `[screen]`).

Written for visitors who may be elderly, anxious or not at ease with screens: short
sentences, what to do next, never a technical word. The bridge's messages (errors.py,
session/machine.py) keep French and English side by side the same way.
"""

from __future__ import annotations

PAGE: dict[str, dict[str, str]] = {
    "idle_title": {"fr": "Bienvenue", "en": "Welcome"},
    "idle_what": {
        "fr": "Cette borne sert aux rendez-vous en visio avec un conseiller "
        "(CAF, Assurance Maladie, France Travail, impôts…).",
        "en": "This kiosk is for video appointments with an adviser "
        "(family benefits, health insurance, employment, taxes…).",
    },
    "idle_desk": {
        "fr": "Pour commencer, adressez-vous à l'accueil.",
        "en": "To begin, please ask at the front desk.",
    },
    "joining": {
        "fr": "Votre conseiller {partner} va vous rejoindre.",
        "en": "Your {partner} adviser will join you.",
    },
    "joining_plain": {
        "fr": "Votre conseiller va vous rejoindre.",
        "en": "Your adviser will join you.",
    },
    "check_words": {
        "fr": "Vous vous voyez ? La barre bouge quand vous parlez ? Tout est prêt.",
        "en": "Can you see yourself? Does the bar move when you speak? All is ready.",
    },
    "check_failed": {
        "fr": "La caméra ou le micro ne répond pas. L'accueil va venir vous aider.",
        "en": "The camera or microphone is not answering. The front desk will help you.",
    },
    "nothing_happens": {
        "fr": "Si rien ne se passe dans quelques minutes, faites signe à l'accueil.",
        "en": "If nothing happens within a few minutes, wave to the front desk.",
    },
    "call_opening": {
        "fr": "La visio s'ouvre. Restez devant l'écran.",
        "en": "The video call is opening. Please stay in front of the screen.",
    },
    "interrupted_title": {"fr": "La visio s'est arrêtée", "en": "The video call stopped"},
    "interrupted_words": {
        "fr": "Ce n'est pas de votre faute. Restez assis, l'accueil arrive.",
        "en": "It is not your fault. Please stay seated, the front desk is coming.",
    },
    "thanks": {"fr": "Merci", "en": "Thank you"},
    "question": {
        "fr": "Ce rendez-vous vous a-t-il aidé ? Touchez un visage.",
        "en": "Did this appointment help you? Touch a face.",
    },
    "good": {"fr": "Oui", "en": "Yes"},
    "ok": {"fr": "Un peu", "en": "A little"},
    "bad": {"fr": "Non", "en": "No"},
    "anonymous": {
        "fr": "Votre réponse est anonyme. Vous pouvez aussi ne pas répondre.",
        "en": "Your answer is anonymous. You may also not answer.",
    },
    "documents": {
        "fr": "N'oubliez pas vos documents à l'imprimante.",
        "en": "Do not forget your documents at the printer.",
    },
    "goodbye": {"fr": "Au revoir et bonne journée.", "en": "Goodbye, have a nice day."},
}

# Peripheral trouble that concerns the visitor, in plain words (printer reason codes from
# kiosk_bridge.printer, scanner error codes from kiosk_bridge.scanner).
TROUBLE: dict[str, dict[str, str]] = {
    "paper_out": {
        "fr": "Le papier est épuisé, l'accueil arrive.",
        "en": "The printer is out of paper, the front desk is coming.",
    },
    "paper_jam": {
        "fr": "Une feuille est coincée dans l'imprimante, l'accueil arrive.",
        "en": "A sheet is stuck in the printer, the front desk is coming.",
    },
    "door_open": {
        "fr": "L'imprimante est ouverte, l'accueil arrive.",
        "en": "The printer is open, the front desk is coming.",
    },
    "toner_empty": {
        "fr": "L'imprimante n'a plus d'encre, l'accueil arrive.",
        "en": "The printer is out of ink, the front desk is coming.",
    },
    "offline": {
        "fr": "L'imprimante ne répond pas, l'accueil arrive.",
        "en": "The printer is not answering, the front desk is coming.",
    },
    "scanner_cover_open": {
        "fr": "Le couvercle du scanner est ouvert : refermez-le, l'accueil arrive.",
        "en": "The scanner's lid is open: close it, the front desk is coming.",
    },
    "scanner_jammed": {
        "fr": "Une feuille est coincée dans le scanner, l'accueil arrive.",
        "en": "A sheet is stuck in the scanner, the front desk is coming.",
    },
}


def page_texts(language: str) -> dict[str, str]:
    return {key: words[language] for key, words in PAGE.items()}


def trouble_text(code: str | None, language: str) -> str | None:
    if code is None or code not in TROUBLE:
        return None
    return TROUBLE[code][language]
