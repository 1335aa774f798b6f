export const engineName: string = 'engine';
