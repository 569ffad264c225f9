// `npm run docs`: writes docs/api.md, the API reference, from the public types — what src/index.ts
// exports, with the doc comments (/** … */) of each declaration and member. Built on the TypeScript
// compiler API that the build already uses, so it reads TypeScript 6 sources as tsc does.
// The output depends only on the sources (sorted, no line numbers, no dates), so a test can
// regenerate it and demand the committed file be identical: docs that fall behind the types fail.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const FLAGS = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType;
const printer = ts.createPrinter({ removeComments: true, newLine: ts.NewLineKind.LineFeed });

const KIND_ORDER = ['class', 'function', 'const', 'interface', 'type'];
const KIND_TITLE = { class: 'Classes', function: 'Functions', const: 'Constants', interface: 'Interfaces', type: 'Types' };

/** The API reference of the package at `root` as markdown. */
export function generateApiDocs(root = ROOT) {
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); },
  });
  const entry = join(root, 'src', 'index.ts');
  const program = ts.createProgram({ rootNames: [entry], options: { ...config.options, noEmit: true } });
  const checker = program.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(entry));
  if (!moduleSymbol) throw new Error(`${entry} is not a module`);

  const resolve = (s) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const isNamespace = (s) => (s.declarations ?? []).some((d) => ts.isSourceFile(d));
  const docOf = (s) => {
    if (!s) return '';
    const text = ts.displayPartsToString(s.getDocumentationComment(checker)).trim();
    const tags = s.getJsDocTags(checker).map((t) => `*@${t.name}* ${ts.displayPartsToString(t.text ?? [])}`.trim());
    return [text, ...tags].filter(Boolean).join('\n\n');
  };
  const print = (node, sf) => printer.printNode(ts.EmitHint.Unspecified, node, sf).replace(/\s+/g, ' ').trim();
  const typeOf = (s, at) => checker.typeToString(checker.getTypeOfSymbolAtLocation(s, at), at, FLAGS);
  const where = (decl) => relative(root, decl.getSourceFile().fileName).split('\\').join('/');

  // Protected members are the backends' implementation hooks, not something a user calls.
  const isHidden = (m) => ts.isClassStaticBlockDeclaration(m)
    || (ts.getCombinedModifierFlags(m) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0
    || (m.name !== undefined && ts.isPrivateIdentifier(m.name));

  /** One member line of a class or interface, with its doc comment. */
  function member(m, sf) {
    const symbol = m.name ? checker.getSymbolAtLocation(m.name) : undefined;
    const flags = ts.getCombinedModifierFlags(m);
    const prefix = `${flags & ts.ModifierFlags.Static ? 'static ' : ''}${flags & ts.ModifierFlags.Abstract ? 'abstract ' : ''}${flags & ts.ModifierFlags.Readonly ? 'readonly ' : ''}`;
    const name = m.name ? m.name.getText(sf) : '';
    const optional = m.questionToken ? '?' : '';
    let code;
    if (ts.isConstructorDeclaration(m)) {
      code = `constructor(${m.parameters.map((p) => print(p, sf)).join(', ')})`;
    } else if (ts.isMethodDeclaration(m) || ts.isMethodSignature(m)) {
      code = `${prefix}${name}${optional}${checker.signatureToString(checker.getSignatureFromDeclaration(m), m, FLAGS)}`;
    } else if (ts.isGetAccessorDeclaration(m)) {
      code = `get ${name}(): ${m.type ? print(m.type, sf) : typeOf(symbol, m)}`;
    } else if (ts.isSetAccessorDeclaration(m)) {
      return undefined; // the getter documents the property
    } else if (ts.isPropertyDeclaration(m) || ts.isPropertySignature(m)) {
      code = `${prefix}${name}${optional}: ${m.type ? print(m.type, sf) : typeOf(symbol, m)}`;
    } else if (ts.isCallSignatureDeclaration(m) || ts.isIndexSignatureDeclaration(m) || ts.isConstructSignatureDeclaration(m)) {
      code = print(m, sf).replace(/;$/, '');
    } else {
      return undefined;
    }
    const doc = docOf(symbol);
    return { code, doc };
  }

  function members(decls) {
    const out = [];
    const seen = new Set();
    for (const decl of decls) {
      const sf = decl.getSourceFile();
      for (const m of decl.members ?? []) {
        if (isHidden(m)) continue;
        const line = member(m, sf);
        if (!line || seen.has(line.code)) continue;
        seen.add(line.code);
        out.push(line);
      }
    }
    return out;
  }

  const heritage = (decl, sf) => (decl.heritageClauses ?? []).map((h) => ` ${print(h, sf)}`).join('');
  const typeParams = (decl, sf) => (decl.typeParameters?.length ? `<${decl.typeParameters.map((p) => print(p, sf)).join(', ')}>` : '');

  /** Renders one exported symbol under a heading of `level`: [kind, markdown]. */
  function entryOf(name, s, level) {
    const decls = s.declarations ?? [];
    const decl = decls[0];
    if (!decl) return undefined;
    const sf = decl.getSourceFile();
    const block = (lines) => `\`\`\`ts\n${lines.join('\n')}\n\`\`\``;
    const listMembers = (ms) => ms.map((m) => `- \`${m.code}\`${m.doc ? ` — ${m.doc.replace(/\n+/g, ' ')}` : ''}`).join('\n');
    const section = (kind, code, ms = []) => {
      const parts = [`${'#'.repeat(level)} ${name}`, block(code)];
      const doc = docOf(s);
      if (doc) parts.push(doc);
      if (ms.length) parts.push(listMembers(ms));
      parts.push(`<sub>${where(decl)}</sub>`);
      return [kind, parts.join('\n\n')];
    };
    if (decls.some((d) => ts.isClassDeclaration(d))) {
      const cls = decls.find((d) => ts.isClassDeclaration(d));
      const abstract = ts.getCombinedModifierFlags(cls) & ts.ModifierFlags.Abstract ? 'abstract ' : '';
      return section('class', [`${abstract}class ${name}${typeParams(cls, sf)}${heritage(cls, sf)}`], members([cls]));
    }
    if (decls.some((d) => ts.isFunctionDeclaration(d))) {
      const type = checker.getTypeOfSymbolAtLocation(s, decl);
      const sigs = type.getCallSignatures().map((sig) => `function ${name}${checker.signatureToString(sig, decl, FLAGS)}`);
      return section('function', sigs);
    }
    if (decls.some((d) => ts.isInterfaceDeclaration(d))) {
      const first = decls.find((d) => ts.isInterfaceDeclaration(d));
      return section('interface', [`interface ${name}${typeParams(first, sf)}${heritage(first, sf)}`], members(decls.filter((d) => ts.isInterfaceDeclaration(d))));
    }
    if (ts.isTypeAliasDeclaration(decl)) {
      return section('type', [`type ${name}${typeParams(decl, sf)} = ${print(decl.type, sf)}`]);
    }
    if (ts.isVariableDeclaration(decl)) {
      const type = decl.type ? print(decl.type, sf) : typeOf(s, decl);
      return section('const', [`const ${name}: ${type}`]);
    }
    if (ts.isEnumDeclaration(decl)) {
      return section('type', [`enum ${name} { ${decl.members.map((m) => m.name.getText(sf)).join(', ')} }`]);
    }
    throw new Error(`build-docs: no renderer for the export '${name}' (${ts.SyntaxKind[decl.kind]} in ${where(decl)})`);
  }

  /** The sections of one module's exports, grouped by kind (heading `level`) and sorted by name. */
  function moduleSections(symbol, prefix, level) {
    const groups = new Map(KIND_ORDER.map((k) => [k, []]));
    const namespaces = [];
    for (const exported of checker.getExportsOfModule(symbol)) {
      const target = resolve(exported);
      if (isNamespace(target)) { namespaces.push([exported.name, target]); continue; }
      const rendered = entryOf(`${prefix}${exported.name}`, target, level + 1);
      if (rendered) groups.get(rendered[0]).push([exported.name, rendered[1]]);
    }
    const out = [];
    const toc = [];
    for (const kind of KIND_ORDER) {
      const items = groups.get(kind).sort(([a], [b]) => a.localeCompare(b, 'en'));
      if (!items.length) continue;
      out.push(`${'#'.repeat(level)} ${prefix ? `${prefix.slice(0, -1)}: ` : ''}${KIND_TITLE[kind]}`);
      for (const [, md] of items) out.push(md);
      toc.push(...items.map(([n]) => `${prefix}${n}`));
    }
    return { out, toc, namespaces: namespaces.sort(([a], [b]) => a.localeCompare(b, 'en')) };
  }

  const top = moduleSections(moduleSymbol, '', 3);
  const anchor = (text) => text.toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');
  const lines = [
    '# feddip API reference',
    '',
    '<!-- Generated by `npm run docs` (scripts/build-docs.mjs) from the types and doc comments of',
    '     src/index.ts and what it exports. Do not edit: change the doc comments and regenerate. -->',
    '',
    "Everything below is exported by `import … from 'feddip'`; namespaces (`fl`, `data`, …) are",
    "objects of the module (`import { fl } from 'feddip'; fl.simulate(…)`). Each entry gives the",
    'declaration, its doc comment, its public members and the source file it comes from.',
    '',
    '## Contents',
    '',
    `- [Top level](#top-level): ${top.toc.map((n) => `[\`${n}\`](#${anchor(n)})`).join(', ')}`,
    ...top.namespaces.map(([n]) => `- [\`${n}\`](#namespace-${anchor(n)})`),
    '',
    '## Top level',
    '',
    ...top.out.flatMap((s) => [s, '']),
  ];
  for (const [name, symbol] of top.namespaces) {
    const ns = moduleSections(symbol, `${name}.`, 3);
    lines.push(`## Namespace ${name}`, '');
    const doc = moduleDoc(symbol);
    if (doc) lines.push(doc, '');
    lines.push(`Contents: ${ns.toc.map((n) => `[\`${n}\`](#${anchor(n)})`).join(', ')}`, '');
    for (const s of ns.out) lines.push(s, '');
    if (ns.namespaces.length) throw new Error(`build-docs: nested namespace in ${name}: extend the generator`);
  }
  return `${lines.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}

/** The leading `//` comment of a namespace's index file: what the namespace is for. */
function moduleDoc(symbol) {
  const sf = symbol.declarations.find((d) => ts.isSourceFile(d));
  const text = sf.getFullText();
  const comment = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('//')) break;
    comment.push(line.replace(/^\/\/ ?/, ''));
  }
  return comment.join(' ').trim();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = join(ROOT, 'docs', 'api.md');
  mkdirSync(dirname(out), { recursive: true });
  const md = generateApiDocs();
  writeFileSync(out, md);
  console.log(`written: ${relative(process.cwd(), out)} (${md.split('\n').length} lines)`);
}
