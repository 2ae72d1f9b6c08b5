// Applies the saved theme before first paint, so a dark page never flashes white.
try {
  var saved = localStorage.getItem('aniworld.theme');
  if (saved === 'light' || saved === 'dark') document.documentElement.dataset.theme = saved;
} catch (e) { /* storage disabled: follow the system */ }
