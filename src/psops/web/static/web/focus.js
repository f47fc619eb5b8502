// After a form comes back with errors, put the keyboard focus on the first field that needs fixing, so a screen
// reader reads its label and its message at once (the message is tied to it by aria-describedby).
document.addEventListener("DOMContentLoaded", function () {
  var first = document.querySelector(".field.invalid input, .field.invalid select, .field.invalid textarea");
  if (first) { first.focus(); }
});
