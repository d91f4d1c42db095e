// Public API of "switchyard". Filled in by the Socket.IO layer.
export {};
