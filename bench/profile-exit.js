// Preloaded (node -r) into live when the bench profiles it with --cpu-prof. Node writes the profile
// on a normal exit only, and Nest's shutdown hook re-raises SIGTERM after closing the app: with this
// listener installed, that second SIGTERM exits normally, and the profile is written.
/* global process, setTimeout */
'use strict';
let signals = 0;
process.on('SIGTERM', () => {
  signals += 1;
  if (signals > 1) process.exit(0);
  setTimeout(() => process.exit(0), 5000);
});
