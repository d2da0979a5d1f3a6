// Bird Explorer: shows the next bird without reloading the page. The page works without this
// script (the server renders the first bird and "Next bird" is a plain link); the script adds
// instant swaps by fetching the next bird and its photo ahead of time.
//
// Everything from the network is untrusted: text goes in with textContent, and only http(s)
// URLs are ever put in src or href.
'use strict';

(() => {
  const API = '/api/bird';
  const FETCH_TIMEOUT_MS = 6000; // the server gives bird 4 s, so this sees its answer
  const PRELOAD_WAIT_MS = 5000; // a slow photo is shown while it finishes loading
  const LOADING_DELAY_MS = 150; // no spinner flash when the next bird is ready

  const $ = (id) => document.getElementById(id);
  const stage = $('stage');
  const card = $('card');
  const next = $('next');
  const status = $('status');
  const birdView = $('bird');
  const errorView = $('error');
  const nameEl = $('bird-name');
  const descriptionEl = $('bird-description');
  const creditEl = $('bird-credit');
  if (!stage || !card || !next) return;

  const utmSource = card.dataset.utmSource || '';
  // The recipe of an Unsplash photo's srcset, as the server uses it for the first photo.
  const photoWidths = (stage.dataset.photoWidths || '').split(' ').filter(Boolean);
  const photoParams = [...new URLSearchParams(stage.dataset.photoParams || '')];
  const photoSizes = stage.dataset.photoSizes || '';
  let photo = $('photo');
  let upcoming = null; // Promise of the next bird, fetched and preloaded in the background
  let busy = false;

  function isWebUrl(value) {
    if (typeof value !== 'string') return false;
    try {
      const url = new URL(value);
      return url.protocol === 'https:' || url.protocol === 'http:';
    } catch {
      return false;
    }
  }

  function isBird(data) {
    const credit = data && data.credit;
    return (
      data !== null &&
      typeof data === 'object' &&
      typeof data.name === 'string' &&
      typeof data.description === 'string' &&
      isWebUrl(data.image) &&
      (credit === null ||
        (typeof credit === 'object' && typeof credit.name === 'string' && isWebUrl(credit.profile_url)))
    );
  }

  function photoAlt(name) {
    return `Photo of ${/^[aeiou]/i.test(name) ? 'an' : 'a'} ${name}`;
  }

  function withUtm(href) {
    const url = new URL(href);
    url.searchParams.set('utm_source', utmSource);
    url.searchParams.set('utm_medium', 'referral');
    return url.href;
  }

  // One rendition per width, for photos that came with an Unsplash credit (only Unsplash's
  // image service resizes by URL); '' for any other photo.
  function photoSrcset(bird) {
    if (!bird.credit || photoWidths.length === 0) return '';
    return photoWidths
      .map((width) => {
        const url = new URL(bird.image);
        url.hash = '';
        const params = [...photoParams, ['w', width]];
        for (const [key] of params) url.searchParams.delete(key);
        for (const [key, value] of params) url.searchParams.append(key, value);
        return `${url.href} ${width}w`;
      })
      .join(', ');
  }

  // The same choice for the preloaded and the shown image, so the browser fetches one
  // rendition once. A photo without a srcset must not keep the previous bird's.
  function setSource(image, bird) {
    const srcset = photoSrcset(bird);
    if (srcset) {
      image.sizes = photoSizes;
      image.srcset = srcset;
    } else {
      image.removeAttribute('srcset');
      image.removeAttribute('sizes');
    }
    image.src = bird.image;
  }

  // Resolves true when the photo loaded, false when it failed, and true after the wait
  // (the photo then finishes loading in place).
  function preload(bird) {
    return new Promise((resolve) => {
      const image = new Image();
      const timer = setTimeout(() => resolve(true), PRELOAD_WAIT_MS);
      image.onload = () => {
        clearTimeout(timer);
        resolve(true);
      };
      image.onerror = () => {
        clearTimeout(timer);
        resolve(false);
      };
      setSource(image, bird);
    });
  }

  async function fetchBird() {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
    let bird;
    try {
      const response = await fetch(API, {
        signal: controller.signal,
        cache: 'no-store',
        headers: { Accept: 'application/json' },
      });
      if (!response.ok) throw new Error(`bird API answered ${response.status}`);
      bird = await response.json();
    } finally {
      clearTimeout(timer);
    }
    if (!isBird(bird)) throw new Error('bird API answered something that is not a bird');
    return { bird, loaded: await preload(bird) };
  }

  function prefetch() {
    upcoming = fetchBird();
    upcoming.catch(() => {}); // a failed prefetch is retried when the next bird is asked for
  }

  function take() {
    const pending = upcoming;
    upcoming = null;
    return pending ? pending.catch(fetchBird) : fetchBird();
  }

  function watch(image) {
    image.addEventListener('load', () => stage.classList.remove('is-broken'));
    image.addEventListener('error', () => stage.classList.add('is-broken'));
    // The photo may have failed before this script ran.
    if (image.complete && image.naturalWidth === 0) stage.classList.add('is-broken');
  }

  function showPhoto(bird, loaded) {
    if (!photo) {
      photo = document.createElement('img');
      photo.className = 'stage__photo';
      photo.id = 'photo';
      stage.append(photo);
      watch(photo);
    }
    stage.classList.toggle('is-broken', !loaded);
    photo.alt = photoAlt(bird.name);
    setSource(photo, bird);
  }

  function showCredit(credit) {
    creditEl.replaceChildren();
    if (!credit) {
      creditEl.hidden = true;
      return;
    }
    const author = document.createElement('a');
    author.href = withUtm(credit.profile_url);
    author.textContent = credit.name;
    const unsplash = document.createElement('a');
    unsplash.href = withUtm('https://unsplash.com/');
    unsplash.textContent = 'Unsplash';
    creditEl.append('Photo by ', author, ' on ', unsplash);
    creditEl.hidden = false;
  }

  function showBird({ bird, loaded }) {
    nameEl.textContent = bird.name;
    descriptionEl.textContent = bird.description;
    showCredit(bird.credit);
    showPhoto(bird, loaded);
    document.title = `${bird.name} · Bird Explorer`;
    birdView.hidden = false;
    errorView.hidden = true;
    next.textContent = 'Next bird';
    prefetch();
  }

  function showError() {
    birdView.hidden = true;
    errorView.hidden = false;
    next.textContent = 'Try again';
  }

  function setLoading(loading) {
    card.classList.toggle('is-loading', loading);
    card.setAttribute('aria-busy', String(loading));
    status.textContent = loading ? 'Finding a bird…' : '';
  }

  next.addEventListener('click', (event) => {
    // Let modified clicks (new tab, new window) follow the link.
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    if (busy) return;
    busy = true;
    const loadingTimer = setTimeout(() => setLoading(true), LOADING_DELAY_MS);
    take()
      .then(showBird, showError)
      .finally(() => {
        clearTimeout(loadingTimer);
        setLoading(false);
        busy = false;
      });
  });

  if (photo) {
    watch(photo);
    // Fetch the next bird once the first photo is in, so the two do not compete.
    if (photo.complete) {
      prefetch();
    } else {
      const start = () => prefetch();
      photo.addEventListener('load', start, { once: true });
      photo.addEventListener('error', start, { once: true });
    }
  }
})();
