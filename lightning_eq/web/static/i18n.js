// The page's words in English and Spanish: one dictionary per language, the browser's language by default,
// a switch remembered in localStorage. Elements carry data-i18n (text), data-i18n-placeholder or
// data-i18n-label (aria-label) with a key; app.js asks for everything else through I18N.t(key, params).
"use strict";

const DICTIONARIES = {
  en: {
    "page.tagline": "Describe how a sound should change. See the EQ, hear it, take it to your equaliser.",
    "page.language": "Language",
    "page.model": "model: {models}",
    "page.models": "models: {models}",
    "page.footer": "Curves come from the SocialEQ study's descriptors. The JSON API is documented at",
    "describe.title": "1. Describe the sound",
    "describe.label": "Description",
    "describe.placeholder": "e.g. warm, punchy and a bit airy",
    "describe.button": "Show curve",
    "describe.try": "Try:",
    "describe.examples": ["warm", "bright and airy", "less boomy, more presence", "very punchy", "a bit darker"],
    "describe.busy": "Finding the curve…",
    "curve.title": "2. The curve",
    "curve.none": "No curve yet: describe a sound above.",
    "curve.caption": "EQ for “{text}”{intensity}.",
    "curve.intensity": " (intensity {value} from the wording)",
    "curve.model": "Model: {model}",
    "curve.language": "Language: {language}",
    "curve.no-language": "not identified",
    "curve.confidence": "Confidence: {confidence}",
    "curve.no-confidence": "not given by this model",
    "curve.unfamiliar": "Unfamiliar description: the model learned little that resembles “{text}” (confidence " +
      "{confidence}), so this curve is a guess.",
    "curve.unfamiliar-scaled": " Its gains are turned down by the confidence; untick “{scaling}” to see it at full strength.",
    "curve.amount": "Amount",
    "curve.max-gain": "Largest gain",
    "curve.hint": "1 = as described, 0.5 = half as much, 0 = flat, −1 = the opposite.",
    "curve.scaling": "Scale the gains by the confidence",
    "curve.summary": "Largest boost {boost} dB at {boostAt}; largest cut {cut} dB at {cutAt}.",
    "curve.changed": "The curve has changed since you equalised: press Equalise again to hear it.",
    "plot.frequency": "frequency (Hz)",
    "plot.gain": "gain (dB)",
    "audio.title": "3. Hear it on your audio",
    "audio.file": "Audio file",
    "audio.formats": "WAV, FLAC, OGG or MP3.",
    "audio.limits": "WAV, FLAC, OGG or MP3, up to {mb} MB and {minutes} long.",
    "audio.normalize": "Turn down to avoid clipping",
    "audio.result-as": "Result as",
    "audio.input-format": "the input's format",
    "audio.button": "Equalise",
    "audio.original": "A · Original",
    "audio.equalised": "B · Equalised",
    "audio.switch": "Switch A/B",
    "audio.download": "Download equalised audio",
    "audio.download-file": "Download {filename}",
    "audio.busy": "Equalising…",
    "audio.report": "Equalised {duration} at {rate} Hz, {channels} ch: {level}, peak {peak} dBFS.{clipped}",
    "audio.turned-down": "turned down {db} dB to avoid clipping",
    "audio.unchanged": "level unchanged",
    "audio.clipped": " Warning: it clips; tick “{normalize}” or lower the amount.",
    "audio.no-curve": "Describe a sound first, then press Show curve; that curve is what gets applied.",
    "audio.no-file": "Choose an audio file first (WAV, FLAC, OGG or MP3).",
    "audio.too-large": "{name} is {size} MB; this server takes files up to {max} MB.",
    "audio.cannot-play": "Cannot play: {message}",
    "tune.title": "4. Tune by ear",
    "tune.hint": "Starts from the curve of your description (or the average curve). Listen to each version of your audio, rate it, and the curve moves towards what you like.",
    "tune.start": "Tune by ear",
    "tune.undo": "Undo",
    "tune.reset": "Start over",
    "tune.play": "Play",
    "tune.stop": "Stop",
    "tune.listen": "Version to hear",
    "tune.original": "Original",
    "tune.current": "Current curve",
    "tune.probe": "Version {n}",
    "tune.rating-label": "How much you like version {n}, 0 to 10",
    "tune.rate": "Rate and continue",
    "tune.busy": "Finding the next versions…",
    "tune.summary": "{count} ratings so far. Rate each version from 0 (dislike) to 10 (like); the plot shows the current curve (solid) and the versions (dashed). Equalise or save a preset to take it with you.{guess}",
    "tune.from-mean": " The model does not know “{text}” well, so tuning started from the average curve.",
    "tune.caption": "EQ for “{text}”, tuned by ear ({count} ratings).",
    "tune.caption-mean": "EQ tuned by ear from the average curve ({count} ratings).",
    "tune.no-file": "Choose an audio file in step 3 first: the versions are played on it.",
    "tune.cannot-decode": "This browser cannot play {name}; choose a WAV, FLAC, OGG or MP3 file.",
    "presets.title": "5. Presets for your equaliser",
    "presets.graphic": "GraphicEQ (Equalizer APO, Wavelet)",
    "presets.parametric": "Parametric (Equalizer APO)",
    "presets.json": "JSON curve",
    "presets.filters": "Filters",
    "presets.busy": "Making the preset…",
    "presets.saved": "Saved {filename}.{fit}",
    "presets.fit": " {filters} filters fit the curve within {max} dB (RMS {rms} dB).",
    "presets.no-curve": "Describe a sound first, then press Show curve; the preset is made from that curve.",
    "error.unreachable": "Could not reach the lightning-eq server. Is `lightning-eq serve` still running?",
    "error.status": "The server answered {status} {statusText}.",
    // No "server.<code>" entries: in English the page shows the server's own detail, which says more.
  },
  es: {
    "page.tagline": "Describe cómo debe cambiar un sonido. Mira la ecualización, escúchala y llévala a tu ecualizador.",
    "page.language": "Idioma",
    "page.model": "modelo: {models}",
    "page.models": "modelos: {models}",
    "page.footer": "Las curvas vienen de los descriptores del estudio SocialEQ. La API JSON está documentada en",
    "describe.title": "1. Describe el sonido",
    "describe.label": "Descripción",
    "describe.placeholder": "p. ej. cálido, con pegada y un poco aireado",
    "describe.button": "Mostrar curva",
    "describe.try": "Prueba:",
    "describe.examples": ["cálido", "brillante y aireado", "menos retumbante", "muy contundente", "un poco más oscuro"],
    "describe.busy": "Buscando la curva…",
    "curve.title": "2. La curva",
    "curve.none": "Aún no hay curva: describe un sonido arriba.",
    "curve.caption": "Ecualización para «{text}»{intensity}.",
    "curve.intensity": " (intensidad {value} según las palabras)",
    "curve.model": "Modelo: {model}",
    "curve.language": "Idioma: {language}",
    "curve.no-language": "sin identificar",
    "curve.confidence": "Confianza: {confidence}",
    "curve.no-confidence": "este modelo no la indica",
    "curve.unfamiliar": "Descripción desconocida: el modelo aprendió poco parecido a «{text}» (confianza " +
      "{confidence}), así que esta curva es una suposición.",
    "curve.unfamiliar-scaled": " Sus ganancias se reducen según la confianza; desmarca «{scaling}» para verla con toda su fuerza.",
    "curve.amount": "Cantidad",
    "curve.max-gain": "Ganancia máxima",
    "curve.hint": "1 = como se describe, 0,5 = la mitad, 0 = plana, −1 = lo contrario.",
    "curve.scaling": "Escalar las ganancias por la confianza",
    "curve.summary": "Mayor realce {boost} dB en {boostAt}; mayor corte {cut} dB en {cutAt}.",
    "curve.changed": "La curva ha cambiado desde que ecualizaste: pulsa Ecualizar otra vez para oírla.",
    "plot.frequency": "frecuencia (Hz)",
    "plot.gain": "ganancia (dB)",
    "audio.title": "3. Escúchala en tu audio",
    "audio.file": "Archivo de audio",
    "audio.formats": "WAV, FLAC, OGG o MP3.",
    "audio.limits": "WAV, FLAC, OGG o MP3, de hasta {mb} MB y {minutes} de duración.",
    "audio.normalize": "Bajar el nivel para evitar la saturación",
    "audio.result-as": "Resultado en",
    "audio.input-format": "el formato de entrada",
    "audio.button": "Ecualizar",
    "audio.original": "A · Original",
    "audio.equalised": "B · Ecualizado",
    "audio.switch": "Cambiar A/B",
    "audio.download": "Descargar el audio ecualizado",
    "audio.download-file": "Descargar {filename}",
    "audio.busy": "Ecualizando…",
    "audio.report": "Ecualizado {duration} a {rate} Hz, {channels} canales: {level}, pico {peak} dBFS.{clipped}",
    "audio.turned-down": "bajado {db} dB para evitar la saturación",
    "audio.unchanged": "nivel sin cambios",
    "audio.clipped": " Atención: satura; marca «{normalize}» o reduce la cantidad.",
    "audio.no-curve": "Primero describe un sonido y pulsa Mostrar curva; esa curva es la que se aplica.",
    "audio.no-file": "Primero elige un archivo de audio (WAV, FLAC, OGG o MP3).",
    "audio.too-large": "{name} pesa {size} MB; este servidor acepta archivos de hasta {max} MB.",
    "audio.cannot-play": "No se puede reproducir: {message}",
    "tune.title": "4. Ajustar de oído",
    "tune.hint": "Parte de la curva de tu descripción (o de la curva media). Escucha cada versión de tu audio, valórala y la curva se acerca a lo que te gusta.",
    "tune.start": "Ajustar de oído",
    "tune.undo": "Deshacer",
    "tune.reset": "Empezar de nuevo",
    "tune.play": "Reproducir",
    "tune.stop": "Parar",
    "tune.listen": "Versión que se oye",
    "tune.original": "Original",
    "tune.current": "Curva actual",
    "tune.probe": "Versión {n}",
    "tune.rating-label": "Cuánto te gusta la versión {n}, de 0 a 10",
    "tune.rate": "Valorar y seguir",
    "tune.busy": "Buscando las siguientes versiones…",
    "tune.summary": "{count} valoraciones por ahora. Valora cada versión de 0 (no me gusta) a 10 (me gusta); el gráfico muestra la curva actual (continua) y las versiones (discontinuas). Ecualiza o guarda un preajuste para llevártela.{guess}",
    "tune.from-mean": " El modelo no conoce bien «{text}», así que el ajuste partió de la curva media.",
    "tune.caption": "Ecualización para «{text}», ajustada de oído ({count} valoraciones).",
    "tune.caption-mean": "Ecualización ajustada de oído desde la curva media ({count} valoraciones).",
    "tune.no-file": "Primero elige un archivo de audio en el paso 3: las versiones se reproducen sobre él.",
    "tune.cannot-decode": "Este navegador no puede reproducir {name}; elige un archivo WAV, FLAC, OGG o MP3.",
    "presets.title": "5. Preajustes para tu ecualizador",
    "presets.graphic": "GraphicEQ (Equalizer APO, Wavelet)",
    "presets.parametric": "Paramétrico (Equalizer APO)",
    "presets.json": "Curva JSON",
    "presets.filters": "Filtros",
    "presets.busy": "Preparando el preajuste…",
    "presets.saved": "Guardado {filename}.{fit}",
    "presets.fit": " {filters} filtros siguen la curva con un error máximo de {max} dB (RMS {rms} dB).",
    "presets.no-curve": "Primero describe un sonido y pulsa Mostrar curva; el preajuste se hace con esa curva.",
    "error.unreachable": "No se pudo contactar con el servidor de lightning-eq. ¿Sigue en marcha `lightning-eq serve`?",
    "error.status": "El servidor respondió {status} {statusText}.",
    // The server's errors by their code (lightning_eq/web/codes.py); any other code shows the server's English detail.
    "server.empty_description": "La descripción está vacía. Escribe cómo debe cambiar el sonido, p. ej. «cálido» o " +
      "«menos retumbante, más presencia».",
    "server.description_too_long": "La descripción tiene {chars} caracteres; que no pase de {max_chars}, una o dos frases.",
    "server.too_many_descriptions": "{count} descripciones en una sola petición; envía como mucho {max_texts}.",
    "server.file_too_large": "El archivo pasa del límite de este servidor, {max_mb} MB. Envía un archivo más corto o " +
      "comprimido (FLAC u OGG), o usa `lightning-eq apply` en una terminal, que no tiene límite.",
    "server.unreadable_audio": "No se puede leer {filename} como audio; envía un archivo WAV, FLAC, OGG o MP3.",
    "server.audio_too_long": "{filename} dura {seconds}; este servidor ecualiza archivos de hasta {max_seconds}. " +
      "Recórtalo, o usa `lightning-eq apply` en una terminal, que no tiene límite de duración.",
    "server.bad_curve": "La curva enviada no es válida: se esperan los 40 valores de una curva de /api/predict o de " +
      "`lightning-eq export --format json`.",
    "server.unknown_model": "No hay ningún modelo «{model}».",
    "server.model_not_served": "Este servidor usa el modelo «{served}», no «{model}».",
    "server.bad_ratings": "Las valoraciones enviadas no son válidas: cada una necesita una curva de 40 números " +
      "finitos y una nota de 0 a 1, y caben como mucho {max_ratings}. Pulsa «Empezar de nuevo».",
    "server.tuner_unavailable": "Este servidor se inició sin afinador, así que no puede ajustar de oído; inicia " +
      "`lightning-eq serve` donde pueda leer data/socialeq o models/tuner.json.",
    "server.body_too_large": "La petición pasa de 1 MB; las peticiones JSON de esta página son pequeñas.",
  },
};

const I18N = (() => {
  const STORAGE_KEY = "lightning-eq.language";
  const SUPPORTED = Object.keys(DICTIONARIES);
  let current = "en";

  // The remembered choice, else the first of the browser's languages that the page speaks, else English.
  function detect() {
    let saved = null;
    try { saved = localStorage.getItem(STORAGE_KEY); } catch (err) { /* storage off: follow the browser */ }
    if (SUPPORTED.includes(saved)) return saved;
    const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
    for (const tag of wanted) {
      const primary = String(tag).toLowerCase().split("-")[0];
      if (SUPPORTED.includes(primary)) return primary;
    }
    return "en";
  }

  function has(key) { return Object.prototype.hasOwnProperty.call(DICTIONARIES[current], key); }

  // The text of key in the current language with {name} replaced by params.name (English if a key is missing).
  function t(key, params) {
    const text = has(key) ? DICTIONARIES[current][key] : DICTIONARIES.en[key];
    if (text === undefined) return key;
    if (typeof text !== "string") return text;
    return text.replace(/\{(\w+)\}/g, (all, name) => (params && params[name] !== undefined ? String(params[name]) : all));
  }

  // Texts, placeholders and aria-labels of the static page.
  function translatePage() {
    document.documentElement.lang = current;
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
    document.querySelectorAll("[data-i18n-label]").forEach((el) => { el.setAttribute("aria-label", t(el.dataset.i18nLabel)); });
    document.querySelectorAll("[data-language]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.language === current)));
  }

  function use(language, remember) {
    current = SUPPORTED.includes(language) ? language : "en";
    if (remember) {
      try { localStorage.setItem(STORAGE_KEY, current); } catch (err) { /* storage off: the choice lasts this visit */ }
    }
    translatePage();
  }

  // A language's name in the page's language ("es" -> "español" or "Spanish").
  function languageName(code) {
    try { return new Intl.DisplayNames([current], { type: "language" }).of(code) || code; } catch (err) { return code; }
  }

  function percent(value) { return new Intl.NumberFormat(current, { style: "percent" }).format(value); }

  return { detect, has, t, use, languageName, percent, get language() { return current; } };
})();
